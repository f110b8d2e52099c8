"""The ``aws-lambda`` target: the service image as a Lambda function behind an HTTP API.

``target`` is the ``Target``; ``deployer`` (boto3) and ``terraform_path`` make the resources;
``reports`` and ``metrics`` read REPORT lines and CloudWatch metrics back as platform events;
``sweeper`` finds and removes what outlived its expiry. Plain Python, no Dagster, no settings.
"""

from nlp_bench_pipeline.targets.aws_lambda.config import AwsLambdaConfig
from nlp_bench_pipeline.targets.aws_lambda.target import AwsLambdaTarget

__all__ = ["AwsLambdaConfig", "AwsLambdaTarget"]
