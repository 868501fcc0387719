"""Creating the one table from the key-schema module (local stage and tests; infra/ uses the
same TABLE_SCHEMA)."""

from __future__ import annotations

from chalicelib.store.keys import TABLE_SCHEMA, TTL_ATTRIBUTE


def create_table(dynamodb_client, table_name: str) -> None:
    existing = dynamodb_client.list_tables()["TableNames"]
    if table_name in existing:
        return
    dynamodb_client.create_table(TableName=table_name, **TABLE_SCHEMA)
    dynamodb_client.get_waiter("table_exists").wait(TableName=table_name)
    dynamodb_client.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
    )
