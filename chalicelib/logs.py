"""The service's one Powertools logger. Names and phone numbers are never logged at info."""

from aws_lambda_powertools import Logger

logger = Logger(service="fieldline")
