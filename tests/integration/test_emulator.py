"""The moto patches the suite relies on keep DynamoDB's all-or-nothing transactions."""

import pytest
from botocore.exceptions import ClientError

TABLE = "fieldline-test"


def test_a_failed_transaction_leaves_every_item_as_it_was(moto_endpoint):
    from chalicelib.integrations.aws import client

    ddb = client("dynamodb")
    existing = {"PK": {"S": "EMU#1"}, "SK": {"S": "A"}, "type": {"S": "x"}, "n": {"N": "1"}}
    ddb.put_item(TableName=TABLE, Item=existing)
    with pytest.raises(ClientError) as failure:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**existing, "n": {"N": "2"}}}},
                {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "EMU#1"}, "SK": {"S": "B"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": {"PK": {"S": "EMU#1"}, "SK": {"S": "missing"}},
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )
    assert failure.value.response["Error"]["Code"] == "TransactionCanceledException"
    items = ddb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "EMU#1"}},
    )["Items"]
    assert items == [existing]
