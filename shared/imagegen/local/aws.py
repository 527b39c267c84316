"""Emulated AWS: moto's server on loopback, with the template's tables, bucket, queues and secret."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from imagegen.local.template import Template

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


class EmulatedAws:
    """A moto server; `create_resources` builds what the template declares, under its names."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per AWS call is noise
        self.server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> str:
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        self.server.stop()

    def _client(self, service: str) -> Any:
        return boto3.session.Session().client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.endpoint,
            region_name=FAKE_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_resources(self, template: Template, jwt_secret: str) -> None:
        """Create every emulated resource and record its physical names in the template."""
        for name, res in template.of_type("AWS::DynamoDB::Table").items():
            self._table(template, name, res["Properties"])
        for name, res in template.of_type("AWS::S3::Bucket").items():
            self._bucket(template, name, res["Properties"])
        queues = template.of_type("AWS::SQS::Queue")
        # Dead-letter queues first: the others name them in their redrive policy.
        for name in sorted(queues, key=lambda n: "RedrivePolicy" in queues[n]["Properties"]):
            self._queue(template, name, queues[name]["Properties"])
        for name in template.of_type("AWS::SecretsManager::Secret"):
            arn = self._client("secretsmanager").create_secret(
                Name=f"{template.stack_name}-{name}", SecretString=jwt_secret
            )["ARN"]
            template.physical[name] = {"Ref": arn, "Arn": arn}

    def _table(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        dynamodb = self._client("dynamodb")
        table_name = props["TableName"]
        spec: dict[str, Any] = {
            "TableName": table_name,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        arn = dynamodb.create_table(**spec)["TableDescription"]["TableArn"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        template.physical[name] = {"Ref": table_name, "Arn": arn}

    def _bucket(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        s3 = self._client("s3")
        bucket = props["BucketName"]
        s3.create_bucket(Bucket=bucket)
        if "PublicAccessBlockConfiguration" in props:
            s3.put_public_access_block(
                Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
            )
        if "BucketEncryption" in props:
            rules = [  # CloudFormation's ServerSideEncryptionByDefault is the API's Apply... field
                {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
                for rule in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
        template.physical[name] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}

    def _queue(self, template: Template, name: str, props: dict[str, Any]) -> None:
        props = template.resolve(props)
        sqs = self._client("sqs")
        attributes = {
            "VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
            "MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600)),
        }
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = sqs.create_queue(QueueName=props["QueueName"], Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        template.physical[name] = {"Ref": url, "Arn": arn, "QueueName": props["QueueName"]}
