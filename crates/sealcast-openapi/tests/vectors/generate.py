"""Generates signature test vectors with the official Alibaba Cloud SDK code (PyPI):
aliyun-python-sdk-core (V1, HMAC-SHA1) and alibabacloud-openapi-util (V3, ACS3-HMAC-SHA256).

    python3 -m venv /tmp/v && /tmp/v/bin/pip install aliyun-python-sdk-core==2.16.1 alibabacloud-openapi-util==0.2.4
    /tmp/v/bin/python generate.py > vectors.json
"""
import hashlib
import json

from aliyunsdkcore.auth.composer import rpc_signature_composer as rpc
from alibabacloud_openapi_util.client import Client as Util
from Tea.request import TeaRequest

SECRET = "testsecret/with+chars="
PEM = "-----BEGIN CERTIFICATE-----\nMIIB*x~y z\n-----END CERTIFICATE-----\n"

v1_cases = [
    ("GET", {"Action": "DescribeLiveDomainConfigs", "Version": "2016-11-01", "DomainName": "play.example.com",
             "FunctionNames": "https_force,HSTS", "Format": "JSON", "AccessKeyId": "testid",
             "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
             "Timestamp": "2026-11-25T12:00:00Z", "SignatureType": "", "RegionId": "cn-shanghai"}),
    ("POST", {"Action": "SetLiveDomainCertificate", "Version": "2016-11-01", "DomainName": "play.example.com",
              "CertName": "c 1", "SSLPub": PEM, "SSLPri": "k*~ü", "Format": "JSON", "AccessKeyId": "testid",
              "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "SignatureNonce": "n1",
              "Timestamp": "2026-11-25T12:00:01Z"}),
]
out = {"secret": SECRET, "v1": [], "v3": []}
for method, params in v1_cases:
    # The module's private helpers, as get_signed_url uses them.
    sts = rpc.__dict__["__compose_string_to_sign"](method, dict(params))
    sig = rpc.__dict__["__get_signature"](sts, SECRET)
    out["v1"].append({"method": method, "params": params, "string_to_sign": sts, "signature": sig})

v3_cases = [
    ("POST", {"DomainName": "play.example.com", "Functions": '[{"functionName":"https_force"}]', "Empty": ""}, b""),
    ("POST", {"CertName": "c/1 ~*", "SSLPub": PEM}, b"form=body&x=1"),
]
for method, query, body in v3_cases:
    req = TeaRequest()
    req.method = method
    req.pathname = "/"
    req.query = dict(query)
    payload = hashlib.sha256(body).hexdigest()
    req.headers = {
        "host": "live.aliyuncs.com",
        "x-acs-action": "BatchSetLiveDomainConfigs",
        "x-acs-version": "2016-11-01",
        "x-acs-date": "2026-11-25T12:00:00Z",
        "x-acs-signature-nonce": "a1b2c3",
        "x-acs-content-sha256": payload,
        "accept": "application/json",
        "user-agent": "AlibabaCloud (Linux) Python/3 Core/0.3 TeaDSL/1",
    }
    auth = Util.get_authorization(req, "ACS3-HMAC-SHA256", payload, "testid", SECRET)
    out["v3"].append({"method": method, "query": query, "headers": req.headers, "body": body.decode(), "authorization": auth})

print(json.dumps(out, indent=1, ensure_ascii=False))
