"""The one table as a PynamoDB model. Entities keep their fields in `data`; keys are overloaded."""

from __future__ import annotations

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.config import get_settings

_settings = get_settings()


class _Meta:
    table_name = _settings.table_name
    region = _settings.aws_region
    host = _settings.aws_endpoint_url
    # Lambda retries at its own level; fail fast on a dead emulator rather than hang.
    connect_timeout_seconds = 2
    read_timeout_seconds = 5
    max_retry_attempts = 3


class Gsi1(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "GSI1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(range_key=True, attr_name="GSI1SK")


class Gsi2(GlobalSecondaryIndex):
    class Meta(_Meta):
        index_name = "GSI2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(range_key=True, attr_name="GSI2SK")


class Item(Model):
    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True, attr_name="PK")
    sk = UnicodeAttribute(range_key=True, attr_name="SK")
    gsi1pk = UnicodeAttribute(null=True, attr_name="GSI1PK")
    gsi1sk = UnicodeAttribute(null=True, attr_name="GSI1SK")
    gsi2pk = UnicodeAttribute(null=True, attr_name="GSI2PK")
    gsi2sk = UnicodeAttribute(null=True, attr_name="GSI2SK")
    type = UnicodeAttribute()
    tenant_id = UnicodeAttribute(null=True)
    # Optimistic locking: PynamoDB adds the version condition to every save and update.
    version = VersionAttribute()
    ttl = TTLAttribute(null=True)
    counter = NumberAttribute(null=True)
    data = MapAttribute(default=dict)

    gsi1 = Gsi1()
    gsi2 = Gsi2()
