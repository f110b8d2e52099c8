"""Signing load for an IAM-authorised HTTP API (SigV4), or attaching a JWT; the signing cost."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.credentials import Credentials, RefreshableCredentials

from nlp_bench_pipeline.loadgen import aws_auth
from nlp_bench_pipeline.loadgen.aws_auth import (
    BearerToken,
    HttpxAuth,
    NoAuth,
    SigV4Signer,
    auth_for_deployment,
    measure_signing,
    request_auth,
)

URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/predict"
BODY = b'{"text": "a fine film"}'
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def expected_signature(headers: dict[str, str], *, secret: str, region: str) -> str:
    """SigV4 computed from AWS's specification, independently of botocore."""
    amz_date = headers["X-Amz-Date"]
    signed = ["content-type", "host", "x-amz-date"]
    values = {
        "content-type": "application/json",
        "host": urlsplit(URL).netloc,
        "x-amz-date": amz_date,
    }
    if "X-Amz-Security-Token" in headers:
        signed.append("x-amz-security-token")
        values["x-amz-security-token"] = headers["X-Amz-Security-Token"]
    canonical = "\n".join(
        [
            "POST",
            "/predict",
            "",
            *(f"{name}:{values[name]}" for name in signed),
            "",
            ";".join(signed),
            hashlib.sha256(BODY).hexdigest(),
        ]
    )
    scope = f"{amz_date[:8]}/{region}/execute-api/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{secret}".encode()
    for part in (amz_date[:8], region, "execute-api", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_a_sigv4_signature_is_the_one_aws_specifies_for_execute_api() -> None:
    headers = SigV4Signer(Credentials(KEY, SECRET), "eu-west-1").headers("POST", URL, BODY)
    authorization = headers["Authorization"]
    assert authorization.startswith(
        f"AWS4-HMAC-SHA256 Credential={KEY}/{headers['X-Amz-Date'][:8]}/eu-west-1/execute-api/"
    )
    assert "SignedHeaders=content-type;host;x-amz-date" in authorization
    signature = authorization.rsplit("Signature=", 1)[1]
    assert signature == expected_signature(headers, secret=SECRET, region="eu-west-1")


def test_temporary_credentials_send_their_session_token_and_sign_it() -> None:
    signer = SigV4Signer(Credentials(KEY, SECRET, token="session-token"), "eu-west-1")
    headers = signer.headers("POST", URL, BODY)
    assert headers["X-Amz-Security-Token"] == "session-token"
    signature = headers["Authorization"].rsplit("Signature=", 1)[1]
    assert signature == expected_signature(headers, secret=SECRET, region="eu-west-1")


def test_expiring_credentials_are_refreshed_before_they_sign() -> None:
    now = datetime.now(UTC)

    def issued(key: str, expiry: datetime) -> dict[str, str]:
        return {
            "access_key": key,
            "secret_key": SECRET,
            "token": "t",
            "expiry_time": expiry.isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        issued("AKIDOLD", now - timedelta(seconds=1)),
        lambda: issued("AKIDFRESH", now + timedelta(hours=1)),
        "test",
    )
    headers = SigV4Signer(credentials, "eu-west-1").headers("POST", URL, BODY)
    assert "Credential=AKIDFRESH/" in headers["Authorization"]


def test_a_jwt_is_attached_as_a_bearer_token() -> None:
    assert BearerToken("eyJ.abc.def").headers("POST", URL, BODY) == {
        "Authorization": "Bearer eyJ.abc.def"
    }


def test_a_deployments_authorization_picks_how_requests_are_authorised() -> None:
    credentials = Credentials(KEY, SECRET)
    signer = request_auth("AWS_IAM", credentials=credentials, region="eu-west-1")
    assert isinstance(signer, SigV4Signer)
    assert isinstance(request_auth("JWT", token="eyJ"), BearerToken)
    assert isinstance(request_auth(None), NoAuth)


@pytest.mark.parametrize(
    ("authorization", "kwargs", "message"),
    [
        ("AWS_IAM", {}, "no AWS credentials or region"),
        ("AWS_IAM", {"credentials": Credentials(KEY, SECRET)}, "no AWS credentials or region"),
        ("JWT", {}, "need a bearer token"),
        ("NONE", {}, "expected AWS_IAM or JWT"),
    ],
)
def test_missing_credentials_or_token_are_one_clear_error(
    authorization: str, kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        request_auth(authorization, **kwargs)  # type: ignore[arg-type]


def test_httpx_requests_are_signed_over_the_body_they_send() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    auth = HttpxAuth(SigV4Signer(Credentials(KEY, SECRET), "eu-west-1"))
    with httpx.Client(transport=httpx.MockTransport(answer), auth=auth) as client:
        client.post(URL, content=BODY, headers={"content-type": "application/json"})
    headers = dict(seen[0].headers)
    signature = headers["authorization"].rsplit("Signature=", 1)[1]
    restored = {"X-Amz-Date": headers["x-amz-date"]}
    assert signature == expected_signature(restored, secret=SECRET, region="eu-west-1")


def test_the_signing_cost_is_measured_per_request() -> None:
    cost = measure_signing(SigV4Signer(Credentials(KEY, SECRET), "eu-west-1"), URL, requests=50)
    assert cost.requests == 50
    assert 0 < cost.p50_us <= cost.p99_us
    assert cost.mean_us > 0
    assert set(cost.as_dict()) == {"requests", "mean_us", "p50_us", "p99_us"}
    with pytest.raises(ValueError, match="at least 1"):
        measure_signing(NoAuth(), URL, requests=0)


def test_signing_is_what_costs_not_the_measurement() -> None:
    signed = measure_signing(SigV4Signer(Credentials(KEY, SECRET), "eu-west-1"), URL, requests=200)
    unsigned = measure_signing(aws_auth.NoAuth(), URL, requests=200)
    assert signed.p50_us > 5 * unsigned.p50_us


def test_a_deployments_details_say_how_its_clients_authorise() -> None:
    credentials = Credentials(KEY, SECRET)
    lambda_details = {"authorization": "AWS_IAM", "region": "eu-west-1"}
    signer = auth_for_deployment(lambda_details, credentials=credentials)
    assert isinstance(signer, SigV4Signer)
    assert signer.region == "eu-west-1"
    assert isinstance(auth_for_deployment({"path": "kubernetes"}), NoAuth)
    jwt = auth_for_deployment({"authorization": "JWT"}, token="eyJ")
    assert jwt.headers("POST", URL, BODY) == {"Authorization": "Bearer eyJ"}
