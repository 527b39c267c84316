"""Data access: one module per AWS resource. The only package that imports boto3."""
