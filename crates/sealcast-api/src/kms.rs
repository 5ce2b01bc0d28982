//! KMS (2016-01-20) actions on the built-in KMS.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sealcast_kms::{BuiltinKms, EncryptionContext, Kms as _, KmsError};
use sealcast_store::KmsKeyRecord;
use serde_json::{json, Map, Value};

use crate::call::{ApiError, Call};

/// The KMS API version.
pub const VERSION: &str = "2016-01-20";

fn kms_error(e: KmsError) -> ApiError {
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
    m.insert("Arn".into(), json!(format!("acs:kms:local:sealcast:key/{}", k.key_id)));
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
