"""The idempotency table, through Powertools' DynamoDB persistence layer (records keyed `id`)."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from imagegen.dal.clients import client


def persistence_layer(table_name: str) -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=table_name, boto3_client=client("dynamodb"))
