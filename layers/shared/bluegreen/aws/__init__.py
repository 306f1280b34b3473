"""Thin helpers over the boto3 clients: ECS, ELBv2, ECR, CloudWatch, SSM, EventBridge, DynamoDB (the store).

Each helper turns one AWS call, or a few, into the domain's models and typed errors; the clients are
passed in (``AwsClients``), so the steps can be tested on moto. Imports ``domain`` only.
"""
