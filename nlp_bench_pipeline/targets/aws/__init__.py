"""What the two AWS targets share: the session and clients, the expiry tags, the ``AwsTarget``
base (owner, tags, the live and the last deployment), Terraform outputs, and the teardown guard
that removes what outlived its expiry.

Credentials come only from boto3's default chain (profile, SSO, instance profile, OIDC web
identity, environment): nothing here reads a key from a file or a setting.
"""
