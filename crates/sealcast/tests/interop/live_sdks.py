"""Drives Sealcast's Live API (domain configs) with the official Alibaba Cloud Python SDKs.

  live_sdks.py v1|v3 ENDPOINT ACCESS_KEY_ID SECRET STEP DOMAIN
STEP: add | force-on | describe | force-off | bad-arg | missing-domain
Prints one JSON object: {"ok": bool, "code": ..., "body": ...}.
"""
import json
import sys

gen, endpoint, ak, secret, step, domain = sys.argv[1:7]
FORCE = json.dumps([{"functionName": "https_force", "functionArgs": [
    {"argName": "enable", "argValue": "on"}, {"argName": "https_rewrite", "argValue": "301"}]}])
BAD = json.dumps([{"functionName": "https_tls_version", "functionArgs": [{"argName": "tls10", "argValue": "on"}]}])

if gen == "v1":
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdklive.request.v20161101 import (AddLiveDomainRequest, BatchDeleteLiveDomainConfigsRequest,
                                                  BatchSetLiveDomainConfigsRequest, DescribeLiveDomainConfigsRequest)

    def call(req):
        req.set_endpoint(endpoint)
        req.set_protocol_type("http")
        try:
            return {"ok": True, "body": json.loads(AcsClient(ak, secret, "cn-shanghai").do_action_with_exception(req))}
        except ServerException as e:
            return {"ok": False, "code": e.get_error_code(), "message": e.get_error_msg()}

    if step == "add":
        r = AddLiveDomainRequest.AddLiveDomainRequest()
        r.set_DomainName(domain)
        r.set_LiveDomainType("liveVideo")
        r.set_Region("cn-shanghai")
    elif step in ("force-on", "bad-arg", "missing-domain"):
        r = BatchSetLiveDomainConfigsRequest.BatchSetLiveDomainConfigsRequest()
        r.set_DomainNames(domain)
        r.set_Functions(BAD if step == "bad-arg" else FORCE)
    elif step == "describe":
        r = DescribeLiveDomainConfigsRequest.DescribeLiveDomainConfigsRequest()
        r.set_DomainName(domain)
        r.set_FunctionNames("https_force,HSTS")
    else:
        r = BatchDeleteLiveDomainConfigsRequest.BatchDeleteLiveDomainConfigsRequest()
        r.set_DomainNames(domain)
        r.set_FunctionNames("https_force")
    print(json.dumps(call(r)))
else:
    from alibabacloud_live20161101 import models as m
    from alibabacloud_live20161101.client import Client
    from alibabacloud_tea_openapi import models as om
    from Tea.exceptions import TeaException

    client = Client(om.Config(access_key_id=ak, access_key_secret=secret, endpoint=endpoint, protocol="http",
                              region_id="cn-shanghai"))

    def call(fn, req):
        try:
            return {"ok": True, "body": getattr(client, fn)(req).body.to_map()}
        except TeaException as e:
            return {"ok": False, "code": e.code, "message": e.message}

    if step == "add":
        res = call("add_live_domain", m.AddLiveDomainRequest(domain_name=domain, live_domain_type="liveVideo",
                                                              region="cn-shanghai"))
    elif step in ("force-on", "bad-arg", "missing-domain"):
        res = call("batch_set_live_domain_configs", m.BatchSetLiveDomainConfigsRequest(
            domain_names=domain, functions=BAD if step == "bad-arg" else FORCE))
    elif step == "describe":
        res = call("describe_live_domain_configs", m.DescribeLiveDomainConfigsRequest(
            domain_name=domain, function_names="https_force,HSTS"))
    else:
        res = call("batch_delete_live_domain_configs", m.BatchDeleteLiveDomainConfigsRequest(
            domain_names=domain, function_names="https_force"))
    print(json.dumps(res))
