"""Drives Sealcast's KMS API with the official Alibaba Cloud Python SDKs of both generations.

  kms_sdks.py v1|v3 ENDPOINT ACCESS_KEY_ID SECRET
  kms_sdks.py v1|v3 ENDPOINT ACCESS_KEY_ID SECRET lifecycle
Prints one JSON object per line: {"step": ..., "ok": bool, "code": ..., ...}.
"""
import base64
import json
import sys

gen, endpoint, ak, secret = sys.argv[1:5]


def out(step, **kw):
    print(json.dumps({"step": step, **kw}), flush=True)


if gen == "v1":
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkkms.request.v20160120 import (CreateKeyRequest, DecryptRequest, DescribeKeyRequest,
                                                 DisableKeyRequest, EncryptRequest, GenerateDataKeyRequest)

    def client(secret_):
        return AcsClient(ak, secret_, "cn-shanghai")

    def call(req, secret_=secret):
        req.set_endpoint(endpoint)
        req.set_protocol_type("http")
        try:
            return True, json.loads(client(secret_).do_action_with_exception(req))
        except ServerException as e:
            return False, {"Code": e.get_error_code(), "Status": e.get_http_status()}

import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sdk_call  # noqa: E402  (the shared caller of every action)

sdk_call.configure(gen, endpoint)


def act(action, **params):
    """Any KMS action through the generation's own request class (see sdk_call.py)."""
    r = sdk_call.call({"product": "kms", "action": action, "params": params}, ak, secret)
    if r["ok"]:
        return True, r["body"]
    return False, {"Code": r["code"], "Status": r["status"], "Message": r["message"]}


if len(sys.argv) == 6 and sys.argv[5] == "lifecycle":
    ok, r = act("CreateKey", Description="lifecycle")
    key_id = r["KeyMetadata"]["KeyId"]
    ok, r = act("ListKeys", PageSize=100)
    out("ListKeys", ok=ok, found=any(k["KeyId"] == key_id for k in r["Keys"]["Key"]), total=r.get("TotalCount"))
    ok, r = act("ListKeys", PageSize=1, PageNumber=1)
    out("ListKeysPage", ok=ok, listed=len(r["Keys"]["Key"]), total=r.get("TotalCount"))
    ok, r = act("CreateKeyVersion", KeyId=key_id)
    version = r.get("KeyVersion", {}).get("KeyVersionId")
    out("CreateKeyVersion", ok=ok, version=version)
    ok, r = act("ListKeyVersions", KeyId=key_id)
    versions = [v["KeyVersionId"] for v in r["KeyVersions"]["KeyVersion"]]
    out("ListKeyVersions", ok=ok, count=len(versions), has_new=version in versions)
    ok, r = act("DescribeKey", KeyId=key_id)
    out("PrimaryVersion", ok=ok, primary=r["KeyMetadata"]["PrimaryKeyVersion"] == version)
    alias = f"alias/lifecycle-{gen}"
    ok, r = act("CreateAlias", AliasName=alias, KeyId=key_id)
    out("CreateAlias", ok=ok, code=r.get("Code"))
    ok, r = act("CreateAlias", AliasName=alias, KeyId=key_id)
    out("CreateAliasAgain", ok=ok, code=r.get("Code"))
    ok, r = act("CreateAlias", AliasName="no-prefix", KeyId=key_id)
    out("CreateAliasInvalid", ok=ok, code=r.get("Code"))
    ok, r = act("ListAliases", PageSize=100)
    out("ListAliases", ok=ok, found=any(a["AliasName"] == alias and a["KeyId"] == key_id for a in r["Aliases"]["Alias"]))
    ok, r = act("GenerateDataKey", KeyId=alias, NumberOfBytes=24)
    out("GenerateByAlias", ok=ok, bytes=len(base64.b64decode(r["Plaintext"])) if ok else 0)
    ok, r = act("DeleteAlias", AliasName=alias)
    out("DeleteAlias", ok=ok)
    ok, r = act("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=3)
    out("ScheduleTooSoon", ok=ok, code=r.get("Code"))
    ok, r = act("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    out("ScheduleKeyDeletion", ok=ok)
    ok, r = act("DescribeKey", KeyId=key_id)
    out("Pending", ok=ok, state=r["KeyMetadata"]["KeyState"], delete_date=bool(r["KeyMetadata"].get("DeleteDate")))
    ok, r = act("GenerateDataKey", KeyId=key_id)
    out("GeneratePending", ok=ok, code=r.get("Code"))
    ok, r = act("CancelKeyDeletion", KeyId=key_id)
    out("CancelKeyDeletion", ok=ok)
    ok, r = act("DescribeKey", KeyId=key_id)
    out("Recovered", ok=ok, state=r["KeyMetadata"]["KeyState"])
    ok, r = act("EnableKey", KeyId=key_id)
    out("EnableKey", ok=ok)
    ok, r = act("DescribeKey", KeyId="00000000-0000-4000-8000-000000000000")
    out("UnknownKey", ok=ok, code=r.get("Code"), status=r.get("Status"))
    sys.exit(0)

if gen == "v1" and len(sys.argv) == 5:
    ok, r = call(CreateKeyRequest.CreateKeyRequest())
    out("CreateKey", ok=ok, code=r.get("Code"))
    key_id = r["KeyMetadata"]["KeyId"]
    req = DescribeKeyRequest.DescribeKeyRequest()
    req.set_KeyId(key_id)
    ok, r = call(req)
    out("DescribeKey", ok=ok, state=r.get("KeyMetadata", {}).get("KeyState"))
    req = GenerateDataKeyRequest.GenerateDataKeyRequest()
    req.set_KeyId(key_id)
    req.set_KeySpec("AES_128")
    req.set_EncryptionContext(json.dumps({"stream": "live/cam"}))
    ok, dk = call(req)
    out("GenerateDataKey", ok=ok, bytes=len(base64.b64decode(dk["Plaintext"])))
    for ctx, step in ((json.dumps({"stream": "live/cam"}), "Decrypt"), (json.dumps({"stream": "other"}), "DecryptWrongContext")):
        req = DecryptRequest.DecryptRequest()
        req.set_CiphertextBlob(dk["CiphertextBlob"])
        req.set_EncryptionContext(ctx)
        ok, r = call(req)
        out(step, ok=ok, code=r.get("Code"), same=r.get("Plaintext") == dk["Plaintext"])
    req = EncryptRequest.EncryptRequest()
    req.set_KeyId(key_id)
    req.set_Plaintext(base64.b64encode(b"db password").decode())
    ok, enc = call(req)
    req = DecryptRequest.DecryptRequest()
    req.set_CiphertextBlob(enc["CiphertextBlob"])
    ok, r = call(req)
    out("EncryptDecrypt", ok=ok, plain=base64.b64decode(r["Plaintext"]).decode())
    req = DescribeKeyRequest.DescribeKeyRequest()
    req.set_KeyId(key_id)
    ok, r = call(req, "wrong-secret")
    out("WrongSecret", ok=ok, code=r.get("Code"), status=r.get("Status"))
    req = DisableKeyRequest.DisableKeyRequest()
    req.set_KeyId(key_id)
    ok, r = call(req)
    req = GenerateDataKeyRequest.GenerateDataKeyRequest()
    req.set_KeyId(key_id)
    ok, r = call(req)
    out("DisabledKey", ok=ok, code=r.get("Code"))
if gen == "v3":
    from alibabacloud_kms20160120 import models as m
    from alibabacloud_kms20160120.client import Client
    from alibabacloud_tea_openapi import models as om
    from Tea.exceptions import TeaException

    def client(secret_):
        return Client(om.Config(access_key_id=ak, access_key_secret=secret_, endpoint=endpoint, protocol="http",
                                region_id="cn-shanghai"))

    def call(fn, req, secret_=secret):
        try:
            return True, getattr(client(secret_), fn)(req).body.to_map()
        except TeaException as e:
            return False, {"Code": e.code, "Status": (e.data or {}).get("statusCode")}

    ok, r = call("create_key", m.CreateKeyRequest(description="v3"))
    out("CreateKey", ok=ok, code=r.get("Code"))
    key_id = r["KeyMetadata"]["KeyId"]
    ok, r = call("describe_key", m.DescribeKeyRequest(key_id=key_id))
    out("DescribeKey", ok=ok, state=r.get("KeyMetadata", {}).get("KeyState"))
    ok, dk = call("generate_data_key", m.GenerateDataKeyRequest(key_id=key_id, key_spec="AES_128",
                                                                 encryption_context={"stream": "live/cam"}))
    out("GenerateDataKey", ok=ok, bytes=len(base64.b64decode(dk["Plaintext"])))
    for ctx, step in (({"stream": "live/cam"}, "Decrypt"), ({"stream": "other"}, "DecryptWrongContext")):
        ok, r = call("decrypt", m.DecryptRequest(ciphertext_blob=dk["CiphertextBlob"], encryption_context=ctx))
        out(step, ok=ok, code=r.get("Code"), same=r.get("Plaintext") == dk["Plaintext"])
    ok, enc = call("encrypt", m.EncryptRequest(key_id=key_id, plaintext=base64.b64encode(b"db password").decode()))
    ok, r = call("decrypt", m.DecryptRequest(ciphertext_blob=enc["CiphertextBlob"]))
    out("EncryptDecrypt", ok=ok, plain=base64.b64decode(r["Plaintext"]).decode())
    ok, r = call("describe_key", m.DescribeKeyRequest(key_id=key_id), "wrong-secret")
    out("WrongSecret", ok=ok, code=r.get("Code"), status=r.get("Status"))
    call("disable_key", m.DisableKeyRequest(key_id=key_id))
    ok, r = call("generate_data_key", m.GenerateDataKeyRequest(key_id=key_id))
    out("DisabledKey", ok=ok, code=r.get("Code"))
