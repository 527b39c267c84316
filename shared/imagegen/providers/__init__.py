"""Image providers behind one protocol. The only package that imports renderers or provider SDKs."""
