"""Calls any Live (2016-11-01) or KMS (2016-01-20) action through the official Alibaba Cloud
Python SDKs, the way users' code does.

  sdk_call.py v1|v3 ENDPOINT < calls.json

calls.json is a list of {"product": "live"|"kms", "action": "SetLiveDomainCertificate",
"params": {"DomainName": ...}, "ak", "secret", "method" (V1: GET or POST),
"stale" (sign with a timestamp 20 minutes old), "nonce" (sign with this nonce): optional}; the default credentials
come from SEALCAST_AK / SEALCAST_SECRET. V1 uses the product's request class and its
set_<Param> setters (aliyun-python-sdk-live / -kms over aliyun-python-sdk-core); V3 uses the
Darabonba model (from_map with the wire names) and the client method (alibabacloud_live20161101
/ alibabacloud_kms20160120). Prints a JSON list: {"ok": true, "body": ...} or
{"ok": false, "code": ..., "status": ..., "message": ...} per call.
"""
import importlib
import json
import os
import re
import sys

gen = endpoint = None


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def configure(generation, api_endpoint):
    """For callers importing this module (kms_sdks.py)."""
    global gen, endpoint
    gen, endpoint = generation, api_endpoint


def v1(product, action, params, ak, secret, method="POST"):
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    package = {"live": "aliyunsdklive.request.v20161101", "kms": "aliyunsdkkms.request.v20160120"}[product]
    mod = importlib.import_module(f"{package}.{action}Request")
    req = getattr(mod, f"{action}Request")()
    for k, v in params.items():
        getattr(req, f"set_{k}")(v)
    req.set_endpoint(endpoint)
    req.set_protocol_type("http")
    req.set_method(method)
    try:
        return {"ok": True, "body": json.loads(AcsClient(ak, secret, "cn-shanghai").do_action_with_exception(req))}
    except ServerException as e:
        return {"ok": False, "code": e.get_error_code(), "status": e.get_http_status(), "message": e.get_error_msg()}


def v3(product, action, params, ak, secret):
    from alibabacloud_tea_openapi import models as om
    from Tea.exceptions import TeaException
    if product == "live":
        from alibabacloud_live20161101 import models as m
        from alibabacloud_live20161101.client import Client
    else:
        from alibabacloud_kms20160120 import models as m
        from alibabacloud_kms20160120.client import Client
    client = Client(om.Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http",
                              region_id="cn-shanghai"))
    req = getattr(m, f"{action}Request")().from_map(params)
    try:
        return {"ok": True, "body": getattr(client, snake(action))(req).body.to_map()}
    except TeaException as e:
        return {"ok": False, "code": e.code, "status": (e.data or {}).get("statusCode"), "message": e.message}


def patched(c):
    """Makes the SDK's own timestamp and nonce helpers return stale or fixed values, so the
    request is still built and signed by the SDK."""
    import contextlib
    import datetime

    stale = (datetime.datetime.utcnow() - datetime.timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    targets = []
    if gen == "v1":
        import aliyunsdkcore.utils.parameter_helper as helper
        if c.get("stale"):
            targets.append((helper, "get_iso_8061_date", lambda: stale))
        if c.get("nonce"):
            targets.append((helper, "get_uuid", lambda: c["nonce"]))
    else:
        from alibabacloud_tea_openapi.utils import Utils
        if c.get("stale"):
            targets.append((Utils, "get_timestamp", staticmethod(lambda: stale)))
        if c.get("nonce"):
            targets.append((Utils, "get_nonce", staticmethod(lambda: c["nonce"])))

    @contextlib.contextmanager
    def cm():
        saved = [(obj, name, obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name))
                 for obj, name, _ in targets]
        for obj, name, value in targets:
            setattr(obj, name, value)
        try:
            yield
        finally:
            for obj, name, value in saved:
                setattr(obj, name, value)
    return cm()


def call(c, ak, secret):
    """One call (the dict described above) through the configured generation's SDK."""
    args = (c["product"], c["action"], c.get("params", {}), c.get("ak", ak), c.get("secret", secret))
    with patched(c):
        return v1(*args, c.get("method", "POST")) if gen == "v1" else v3(*args)


if __name__ == "__main__":
    configure(sys.argv[1], sys.argv[2])
    default_ak, default_secret = os.environ["SEALCAST_AK"], os.environ["SEALCAST_SECRET"]
    print(json.dumps([call(c, default_ak, default_secret) for c in json.load(sys.stdin)]))
