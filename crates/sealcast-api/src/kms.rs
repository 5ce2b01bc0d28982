//! KMS (2016-01-20) actions on the built-in KMS.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sealcast_kms::{BuiltinKms, EncryptionContext, Kms as _, KmsError};
use sealcast_store::KmsKeyRecord;
use serde_json::{json, Map, Value};

use crate::call::{ApiError, Call};

/// The KMS API version.
pub const VERSION: &str = "2016-01-20";

pub(crate) fn kms_error(e: KmsError) -> ApiError {
    match e {
        KmsError::KeyNotFound(id) => {
            ApiError::new(404, "Forbidden.KeyNotFound", format!("The specified Key {id} is not found."))
        }
        KmsError::KeyDisabled(id) => ApiError::new(
            400,
            "Rejected.Disabled",
            format!("The request is rejected because the key {id} is disabled."),
        ),
        KmsError::KeyPendingDeletion(id) => ApiError::new(
            400,
            "Rejected.PendingDeletion",
            format!("The request is rejected because the key {id} is pending deletion."),
        ),
        KmsError::InvalidCiphertext(why) => {
            ApiError::new(400, "InvalidCiphertext", format!("The specified Ciphertext is invalid: {why}"))
        }
        KmsError::ContextMismatch | KmsError::Tampered => {
            ApiError::new(400, "InvalidCiphertext", format!("The specified Ciphertext is invalid: {e}"))
        }
        KmsError::InvalidParameter(why) => ApiError::new(400, "InvalidParameter", why),
        KmsError::Unavailable(why) => {
            ApiError::new(503, "ServiceUnavailable", format!("The KMS is unavailable: {why}"))
        }
        KmsError::Remote { code, message } => ApiError::new(400, code, format!("The remote KMS refused: {message}")),
        KmsError::AliasExists(a) => {
            ApiError::new(409, "Rejected.AliasAlreadyExists", format!("The alias {a} is already in use."))
        }
        other => {
            tracing::error!(error = %other, "KMS failure");
            ApiError::new(500, "InternalFailure", "The KMS could not process the request.")
        }
    }
}

/// `EncryptionContext` is a JSON object of strings.
fn context(call: &Call) -> Result<EncryptionContext, ApiError> {
    let mut ctx = EncryptionContext::new();
    if let Some(text) = call.get("EncryptionContext") {
        let v: Value = serde_json::from_str(text).map_err(|e| ApiError::invalid("EncryptionContext", e))?;
        let Value::Object(map) = v else {
            return Err(ApiError::invalid("EncryptionContext", "must be a JSON object of strings"));
        };
        for (k, v) in map {
            let Value::String(v) = v else {
                return Err(ApiError::invalid("EncryptionContext", "every value must be a string"));
            };
            ctx.insert(k, v);
        }
    }
    Ok(ctx)
}

fn rfc3339(t: i64) -> String {
    sealcast_crypto::civil::rfc3339(t)
}

fn metadata(k: &KmsKeyRecord) -> Value {
    let mut m = Map::new();
    m.insert("KeyId".into(), json!(k.key_id));
    m.insert("Arn".into(), json!(arn(&k.key_id)));
    m.insert("Description".into(), json!(k.description));
    m.insert("KeyState".into(), json!(k.state));
    m.insert("KeySpec".into(), json!(k.key_spec));
    m.insert("KeyUsage".into(), json!(k.key_usage));
    m.insert("Origin".into(), json!("Aliyun_KMS"));
    m.insert("ProtectionLevel".into(), json!("SOFTWARE"));
    m.insert("PrimaryKeyVersion".into(), json!(k.primary_version));
    m.insert("CreationDate".into(), json!(rfc3339(k.created_at)));
    if let Some(d) = k.deletion_at {
        m.insert("DeleteDate".into(), json!(rfc3339(d)));
    }
    Value::Object(m)
}

fn arn(key_id: &str) -> String {
    format!("acs:kms:local:sealcast:key/{key_id}")
}

/// `PageNumber` (from 1) and `PageSize` (1..=100, default 10) applied to `items`, with the
/// paging fields of the response.
pub(crate) fn page<T: Clone>(call: &Call, items: &[T]) -> Result<(Vec<T>, Value), ApiError> {
    let p = call.paging("PageNumber", "PageSize", 10, 100)?;
    let slice = p.slice(items).cloned().collect();
    Ok((slice, json!({"TotalCount": items.len(), "PageNumber": p.number, "PageSize": p.size})))
}

pub(crate) fn with_paging(mut body: Value, paging: Value) -> Value {
    if let (Value::Object(b), Value::Object(p)) = (&mut body, paging) {
        b.extend(p);
    }
    body
}

/// Runs one KMS action; returns the response fields (without RequestId).
pub async fn dispatch(kms: &BuiltinKms, call: &Call) -> Result<Value, ApiError> {
    match call.action.as_str() {
        "CreateKey" => {
            let k = kms.create_key(call.get("Description").unwrap_or("")).await.map_err(kms_error)?;
            Ok(json!({"KeyMetadata": metadata(&k)}))
        }
        "DescribeKey" => {
            let k = kms.describe_key(call.require("KeyId")?).await.map_err(kms_error)?;
            Ok(json!({"KeyMetadata": metadata(&k)}))
        }
        "EnableKey" | "DisableKey" => {
            kms.set_enabled(call.require("KeyId")?, call.action == "EnableKey").await.map_err(kms_error)?;
            Ok(json!({}))
        }
        "ListKeys" => {
            let keys = kms.list_keys().await.map_err(kms_error)?;
            let (keys, paging) = page(call, &keys)?;
            let keys: Vec<Value> = keys.iter().map(|k| json!({"KeyId": k.key_id, "KeyArn": arn(&k.key_id)})).collect();
            Ok(with_paging(json!({"Keys": {"Key": keys}}), paging))
        }
        "ScheduleKeyDeletion" => {
            let days = call
                .require("PendingWindowInDays")?
                .parse::<i64>()
                .map_err(|_| ApiError::invalid("PendingWindowInDays", "must be a number of days, 7 to 366"))?;
            kms.schedule_key_deletion(call.require("KeyId")?, days).await.map_err(kms_error)?;
            Ok(json!({}))
        }
        "CancelKeyDeletion" => {
            kms.cancel_key_deletion(call.require("KeyId")?).await.map_err(kms_error)?;
            Ok(json!({}))
        }
        "CreateKeyVersion" => {
            let key_id = call.require("KeyId")?;
            let version = kms.rotate_key(key_id).await.map_err(kms_error)?;
            let k = kms.describe_key(key_id).await.map_err(kms_error)?;
            let (_, versions) = kms.list_key_versions(&k.key_id).await.map_err(kms_error)?;
            let created = versions.iter().find(|v| v.0 == version).map_or(0, |v| v.1);
            Ok(json!({"KeyVersion": {"KeyId": k.key_id, "KeyVersionId": version, "CreationDate": rfc3339(created)}}))
        }
        "ListKeyVersions" => {
            let (key_id, versions) = kms.list_key_versions(call.require("KeyId")?).await.map_err(kms_error)?;
            let (versions, paging) = page(call, &versions)?;
            let versions: Vec<Value> = versions
                .iter()
                .map(|(v, at)| json!({"KeyId": key_id, "KeyVersionId": v, "CreationDate": rfc3339(*at)}))
                .collect();
            Ok(with_paging(json!({"KeyVersions": {"KeyVersion": versions}}), paging))
        }
        "CreateAlias" => {
            kms.create_alias(call.require("AliasName")?, call.require("KeyId")?).await.map_err(kms_error)?;
            Ok(json!({}))
        }
        "DeleteAlias" => {
            kms.delete_alias(call.require("AliasName")?).await.map_err(kms_error)?;
            Ok(json!({}))
        }
        "ListAliases" => {
            let aliases = kms.list_aliases().await.map_err(kms_error)?;
            let (aliases, paging) = page(call, &aliases)?;
            let aliases: Vec<Value> = aliases
                .iter()
                .map(|(a, k)| json!({"AliasName": a, "KeyId": k, "AliasArn": format!("acs:kms:local:sealcast:{a}")}))
                .collect();
            Ok(with_paging(json!({"Aliases": {"Alias": aliases}}), paging))
        }
        "GenerateDataKey" => {
            let key_id = call.require("KeyId")?;
            let len = match (call.get("NumberOfBytes"), call.get("KeySpec")) {
                (Some(n), _) => n
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| ApiError::invalid("NumberOfBytes", "must be 1 to 1024"))?,
                (None, None | Some("AES_256")) => 32,
                (None, Some("AES_128")) => 16,
                (None, Some(other)) => {
                    return Err(ApiError::invalid("KeySpec", format!("{other}: use AES_256 or AES_128")))
                }
            };
            let dk = kms.generate_data_key_bytes(Some(key_id), len, &context(call)?).await.map_err(kms_error)?;
            Ok(json!({
                "KeyId": dk.key_id,
                "KeyVersionId": dk.key_version_id,
                "CiphertextBlob": STANDARD.encode(&dk.ciphertext_blob),
                "Plaintext": STANDARD.encode(dk.plaintext.expose()),
            }))
        }
        "Encrypt" => {
            let key_id = call.require("KeyId")?;
            let plaintext = STANDARD
                .decode(call.require("Plaintext")?)
                .map_err(|_| ApiError::invalid("Plaintext", "must be Base64-encoded"))?;
            let (key_id, version, blob) =
                kms.encrypt(Some(key_id), &plaintext, &context(call)?).await.map_err(kms_error)?;
            Ok(json!({"KeyId": key_id, "KeyVersionId": version, "CiphertextBlob": STANDARD.encode(blob)}))
        }
        "Decrypt" => {
            let blob = STANDARD
                .decode(call.require("CiphertextBlob")?)
                .map_err(|_| ApiError::invalid("CiphertextBlob", "must be Base64-encoded"))?;
            let d = kms.decrypt(&blob, &context(call)?).await.map_err(kms_error)?;
            Ok(
                json!({"KeyId": d.key_id, "KeyVersionId": d.key_version_id, "Plaintext": STANDARD.encode(d.plaintext.expose())}),
            )
        }
        other => Err(ApiError::new(
            404,
            "InvalidAction.NotFound",
            format!("Specified api {other} is not found for version {VERSION}, please check your url and method."),
        )),
    }
}
