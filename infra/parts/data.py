"""What the app stores and signs in with: the table, the integrations secret, the photo
bucket, Cognito's user pool, and the route calculator dispatch reads travel times from.

Everything stateful here is retained when the stack goes (RemovalPolicy.RETAIN)."""

from __future__ import annotations

import json

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_location as location
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from chalicelib.domain.tenants import ROLES
from chalicelib.store import keys
from infra.parts.base import Names, Part, StackError, StageOptions


class Data(Part):
    def __init__(self, scope: Construct, construct_id: str, *, names: Names, options: StageOptions):
        super().__init__(scope, construct_id)
        self.names = names
        self.options = options
        self.table = self._table()
        self.secret = self._secret()
        self.photos = self._photos_bucket()
        self.route_calculator = self._route_calculator()
        self.user_pool, self.user_pool_client = self._user_pool()

    def _table(self) -> dynamodb.CfnTable:
        """The one table, from keys.TABLE_SCHEMA: the same schema the code and the tests use."""
        schema = keys.TABLE_SCHEMA
        table = dynamodb.CfnTable(
            self,
            "Table",
            table_name=self.names.table,
            attribute_definitions=[
                dynamodb.CfnTable.AttributeDefinitionProperty(
                    attribute_name=a["AttributeName"], attribute_type=a["AttributeType"]
                )
                for a in schema["AttributeDefinitions"]
            ],
            key_schema=_key_schema(schema["KeySchema"]),
            global_secondary_indexes=[
                dynamodb.CfnTable.GlobalSecondaryIndexProperty(
                    index_name=index["IndexName"],
                    key_schema=_key_schema(index["KeySchema"]),
                    projection=dynamodb.CfnTable.ProjectionProperty(
                        projection_type=index["Projection"]["ProjectionType"]
                    ),
                )
                for index in schema["GlobalSecondaryIndexes"]
            ],
            billing_mode=schema["BillingMode"],
            stream_specification=dynamodb.CfnTable.StreamSpecificationProperty(
                stream_view_type=schema["StreamSpecification"]["StreamViewType"]
            ),
            point_in_time_recovery_specification=(
                dynamodb.CfnTable.PointInTimeRecoverySpecificationProperty(
                    point_in_time_recovery_enabled=True
                )
            ),
            deletion_protection_enabled=True,
            time_to_live_specification=dynamodb.CfnTable.TimeToLiveSpecificationProperty(
                attribute_name=keys.TTL_ATTRIBUTE, enabled=True
            ),
        )
        table.apply_removal_policy(RemovalPolicy.RETAIN)
        return table

    def _secret(self) -> secretsmanager.Secret:
        """Stripe, Twilio and link secrets; the operator fills all but the link secret
        (DEPLOY.md): Stripe's key, the signing secrets of its two webhook endpoints (the
        platform's and the Connect endpoint for the tenants' accounts), Twilio's token."""
        return secretsmanager.Secret(
            self,
            "IntegrationSecrets",
            secret_name=self.names.secret,
            description="Fieldline: Stripe and Twilio credentials and the link-signing key",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(
                    {
                        "stripe_secret_key": "",
                        "stripe_webhook_secret": "",
                        "stripe_connect_webhook_secret": "",
                        "twilio_auth_token": "",
                    }
                ),
                generate_string_key="link_secret",
                exclude_punctuation=True,
                password_length=64,
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _route_calculator(self) -> location.CfnRouteCalculator | None:
        """Road travel times for dispatch optimization (CalculateRouteMatrix)."""
        if self.options.travel_provider == "straight_line":
            return None
        if self.options.travel_provider != "amazon_location":
            raise StackError(
                f"travel_provider must be amazon_location or straight_line, "
                f"not '{self.options.travel_provider}'"
            )
        return location.CfnRouteCalculator(
            self,
            "RouteCalculator",
            calculator_name=self.names.route_calculator,
            data_source="Here",
            description="Fieldline: drive times between technicians' homes and visits",
        )

    def _photos_bucket(self) -> s3.Bucket:
        """Private and encrypted; clients upload straight to it with presigned POST forms,
        under a prefix whose objects expire: an upload nobody confirms does not stay."""
        from chalicelib.integrations.s3 import UPLOAD_PREFIX

        return s3.Bucket(
            self,
            "Photos",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                    allowed_origins=list(self.options.cors_origins),
                    allowed_headers=["*"],
                    exposed_headers=["ETag"],
                    max_age=3000,
                )
            ],
            lifecycle_rules=[
                s3.LifecycleRule(abort_incomplete_multipart_upload_after=Duration.days(1)),
                # Confirming a photo copies its upload out of the prefix (services/photos.py).
                s3.LifecycleRule(
                    id="ExpireUnconfirmedUploads",
                    prefix=UPLOAD_PREFIX,
                    expiration=Duration.days(1),
                ),
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _user_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        """Staff sign in here; the ID token carries custom:tenant_id, custom:role and
        custom:user_id.

        Only an administrator (IAM: the app, for accepted invitations) may set them: the app
        client can read them but not write them, so nobody can move themselves to another
        tenant, role or user.
        """
        pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=self.names.prefix,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            custom_attributes={
                "tenant_id": cognito.StringAttribute(min_len=1, max_len=64, mutable=True),
                "role": cognito.StringAttribute(min_len=1, max_len=32, mutable=True),
                # The Fieldline user a login is (an invited technician keeps the id the office
                # books them by; services/team.py).
                "user_id": cognito.StringAttribute(min_len=1, max_len=64, mutable=True),
            },
            password_policy=cognito.PasswordPolicy(
                min_length=12, require_digits=True, require_lowercase=True, require_uppercase=True
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        client = pool.add_client(
            "AppClient",
            user_pool_client_name=f"{self.names.prefix}-app",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            id_token_validity=Duration.hours(1),
            access_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, fullname=True)
            .with_custom_attributes("tenant_id", "role", "user_id"),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(fullname=True),
        )
        for role in ROLES:  # a login is in its role's group (integrations/cognito.py)
            cognito.CfnUserPoolGroup(
                self, f"Group{role.title()}", user_pool_id=pool.user_pool_id, group_name=role
            )
        return pool, client

    # --- events and queues --------------------------------------------------------------------


def _key_schema(elements: list[dict[str, str]]) -> list[dynamodb.CfnTable.KeySchemaProperty]:
    return [
        dynamodb.CfnTable.KeySchemaProperty(
            attribute_name=k["AttributeName"], key_type=k["KeyType"]
        )
        for k in elements
    ]
