//! Identity and access: users own access keys; RAM-style policies attached to users decide
//! which actions on which resources they may call. Explicit deny wins, default deny.
//!
//! A policy document is `{"Version":"1","Statement":[{"Effect":"Allow|Deny",
//! "Action":["live:Describe*","kms:Decrypt"],"Resource":["acs:live:*:*:domain/play.example.com"]}]}`;
//! `Action` and `Resource` may be a string or a list, and match with `*` and `?` wildcards
//! (actions without regard to case, as RAM does).

use std::sync::Arc;

use sealcast_store::{PolicyRecord, Store, StoreError, UserRecord};
use serde_json::Value;
use thiserror::Error;

use crate::keys::{AccessKeyError, AccessKeys, NewAccessKey};

/// The policy every administrator has (shipped by the store's migrations).
pub const ADMINISTRATOR_POLICY: &str = "AdministratorAccess";

/// Region and account parts of Sealcast's resource names.
pub const ARN_PREFIX_LIVE: &str = "acs:live:local:sealcast:";
pub const ARN_PREFIX_KMS: &str = "acs:kms:local:sealcast:";

/// Identity failures.
#[derive(Debug, Error)]
pub enum IamError {
    #[error("invalid policy document: {0}")]
    InvalidPolicy(String),
    #[error("invalid name {0:?}: use 1-64 letters, digits, '.', '_', '@' or '-'")]
    InvalidName(String),
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("access key: {0}")]
    AccessKey(#[from] AccessKeyError),
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<String>,
}

/// A parsed policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

fn strings(v: &Value, field: &str) -> Result<Vec<String>, IamError> {
    let bad = || IamError::InvalidPolicy(format!("{field} must be a non-empty string or list of strings"));
    let list = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => {
            a.iter().map(|x| x.as_str().map(str::to_string).ok_or_else(bad)).collect::<Result<_, _>>()?
        }
        _ => return Err(bad()),
    };
    if list.is_empty() || list.iter().any(|s| s.is_empty() || s.len() > 1024) {
        return Err(bad());
    }
    Ok(list)
}

impl PolicyDocument {
    /// Parses and checks a document (at most 6 KiB, as RAM allows).
    pub fn parse(text: &str) -> Result<PolicyDocument, IamError> {
        if text.len() > 6144 {
            return Err(IamError::InvalidPolicy("a policy document is at most 6144 bytes".into()));
        }
        let v: Value = serde_json::from_str(text).map_err(|e| IamError::InvalidPolicy(e.to_string()))?;
        if let Some(ver) = v.get("Version") {
            if ver.as_str() != Some("1") {
                return Err(IamError::InvalidPolicy("Version must be \"1\"".into()));
            }
        }
        let list = v
            .get("Statement")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| IamError::InvalidPolicy("Statement must be a non-empty list".into()))?;
        let statements = list
            .iter()
            .map(|s| {
                let Some(fields) = s.as_object() else {
                    return Err(IamError::InvalidPolicy("each statement must be a JSON object".into()));
                };
                if let Some(k) = fields.keys().find(|k| !["Effect", "Action", "Resource", "Sid"].contains(&k.as_str()))
                {
                    return Err(IamError::InvalidPolicy(format!(
                        "{k} is not supported (statements have Effect, Action and Resource): \
                         a policy Sealcast cannot enforce in full is refused rather than widened"
                    )));
                }
                let effect = match s.get("Effect").and_then(Value::as_str) {
                    Some("Allow") => Effect::Allow,
                    Some("Deny") => Effect::Deny,
                    _ => return Err(IamError::InvalidPolicy("Effect must be \"Allow\" or \"Deny\"".into())),
                };
                let actions = strings(s.get("Action").unwrap_or(&Value::Null), "Action")?;
                for a in &actions {
                    if a != "*" && !a.contains(':') {
                        return Err(IamError::InvalidPolicy(format!(
                            "action {a:?} must be \"*\" or service:Action, e.g. live:AddLiveDomain or kms:*"
                        )));
                    }
                }
                let resources = strings(s.get("Resource").unwrap_or(&Value::Null), "Resource")?;
                Ok(Statement { effect, actions, resources })
            })
            .collect::<Result<_, _>>()?;
        Ok(PolicyDocument { statements })
    }
}

/// `*` matches any run of characters, `?` one character.
pub fn wildcard_match(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect())
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    // Iterative matching with backtracking to the last star: linear in practice.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The outcome of evaluating policies for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// A statement denies it.
    ExplicitDeny,
    /// Nothing allows it.
    ImplicitDeny,
}

/// Evaluates `action` (`live:AddLiveDomain`) on every one of `resources`: each must be
/// allowed by some statement and denied by none.
pub fn evaluate(policies: &[PolicyDocument], action: &str, resources: &[String]) -> Decision {
    let statements = || policies.iter().flat_map(|p| p.statements.iter());
    let applies = |s: &Statement, resource: &str| {
        s.actions.iter().any(|a| wildcard_match(a, action, true))
            && s.resources.iter().any(|r| wildcard_match(r, resource, false))
    };
    let mut decision = Decision::Allow;
    for resource in resources {
        if statements().any(|s| s.effect == Effect::Deny && applies(s, resource)) {
            return Decision::ExplicitDeny;
        }
        if !statements().any(|s| s.effect == Effect::Allow && applies(s, resource)) {
            decision = Decision::ImplicitDeny;
        }
    }
    decision
}

fn valid_name(name: &str) -> Result<(), IamError> {
    let ok = (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(IamError::InvalidName(name.to_string()))
    }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Users, their access keys and policies.
#[derive(Clone)]
pub struct Iam {
    store: Store,
    keys: AccessKeys,
}

impl std::fmt::Debug for Iam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iam").finish_non_exhaustive()
    }
}

impl Iam {
    pub fn new(store: Store, kms: Arc<dyn sealcast_kms::Kms>) -> Iam {
        let keys = AccessKeys::new(store.clone(), kms);
        Iam { store, keys }
    }

    /// The access keys (for request authentication).
    pub fn keys(&self) -> &AccessKeys {
        &self.keys
    }

    pub async fn create_user(&self, name: &str, display_name: &str) -> Result<UserRecord, IamError> {
        valid_name(name)?;
        let u = UserRecord { user_name: name.to_string(), display_name: display_name.to_string(), created_at: now() };
        match self.store.user_insert(&u).await {
            Err(StoreError::Conflict(_)) => Err(IamError::Exists(format!("user {name}"))),
            other => Ok(other.map(|_| u)?),
        }
    }

    /// Creates the user when missing and makes sure it is an administrator (bootstrap).
    pub async fn ensure_admin(&self, name: &str) -> Result<(), IamError> {
        match self.create_user(name, "administrator").await {
            Ok(_) | Err(IamError::Exists(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(self.store.policy_attach(name, ADMINISTRATOR_POLICY).await?)
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>, IamError> {
        Ok(self.store.user_list().await?)
    }

    /// Deletes a user with its access keys.
    pub async fn delete_user(&self, name: &str) -> Result<(), IamError> {
        if !self.store.user_delete(name).await? {
            return Err(IamError::NotFound(format!("user {name}")));
        }
        Ok(())
    }

    /// A new access key for an existing user; the secret is returned once.
    pub async fn create_access_key(&self, user: &str) -> Result<NewAccessKey, IamError> {
        if self.store.user_get(user).await?.is_none() {
            return Err(IamError::NotFound(format!("user {user}")));
        }
        Ok(self.keys.create(user).await?)
    }

    /// Activates or deactivates a key.
    pub async fn set_access_key_active(&self, id: &str, active: bool) -> Result<(), IamError> {
        let state = if active { "Active" } else { "Inactive" };
        if !self.store.access_key_set_state(id, state).await? {
            return Err(IamError::NotFound(format!("access key {id}")));
        }
        self.keys.forget(id);
        Ok(())
    }

    pub async fn delete_access_key(&self, id: &str) -> Result<(), IamError> {
        if !self.store.access_key_delete(id).await? {
            return Err(IamError::NotFound(format!("access key {id}")));
        }
        self.keys.forget(id);
        Ok(())
    }

    /// Creates or replaces a policy after checking its document.
    pub async fn put_policy(&self, name: &str, document: &str, description: &str) -> Result<(), IamError> {
        valid_name(name)?;
        PolicyDocument::parse(document)?;
        let created_at = self.store.policy_get(name).await?.map_or_else(now, |p| p.created_at);
        let p = PolicyRecord {
            policy_name: name.to_string(),
            document: document.to_string(),
            description: description.to_string(),
            created_at,
        };
        Ok(self.store.policy_put(&p).await?)
    }

    pub async fn policies(&self) -> Result<Vec<PolicyRecord>, IamError> {
        Ok(self.store.policy_list().await?)
    }

    pub async fn policy(&self, name: &str) -> Result<PolicyRecord, IamError> {
        self.store.policy_get(name).await?.ok_or_else(|| IamError::NotFound(format!("policy {name}")))
    }

    pub async fn delete_policy(&self, name: &str) -> Result<(), IamError> {
        if !self.store.policy_delete(name).await? {
            return Err(IamError::NotFound(format!("policy {name}")));
        }
        Ok(())
    }

    pub async fn attach(&self, user: &str, policy: &str) -> Result<(), IamError> {
        match self.store.policy_attach(user, policy).await {
            Err(StoreError::NotFound(what)) => Err(IamError::NotFound(what)),
            other => Ok(other?),
        }
    }

    pub async fn detach(&self, user: &str, policy: &str) -> Result<(), IamError> {
        if !self.store.policy_detach(user, policy).await? {
            return Err(IamError::NotFound(format!("policy {policy} attached to user {user}")));
        }
        Ok(())
    }

    /// The names of the policies attached to a user.
    pub async fn policies_of(&self, user: &str) -> Result<Vec<String>, IamError> {
        Ok(self.store.policies_of_user(user).await?.into_iter().map(|p| p.policy_name).collect())
    }

    /// The parsed policies of a user, for [`evaluate`].
    pub async fn documents(&self, user: &str) -> Result<Vec<PolicyDocument>, IamError> {
        self.store.policies_of_user(user).await?.iter().map(|p| PolicyDocument::parse(&p.document)).collect()
    }

    /// Whether `user` may call `action` on every one of `resources`.
    pub async fn authorize(&self, user: &str, action: &str, resources: &[String]) -> Result<Decision, IamError> {
        Ok(evaluate(&self.documents(user).await?, action, resources))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard_match("live:Describe*", "live:describelivedomaindetail", true));
        assert!(!wildcard_match("live:Describe*", "live:AddLiveDomain", true));
        assert!(wildcard_match("*", "", false));
        assert!(wildcard_match(
            "acs:live:*:*:domain/*.example.com",
            "acs:live:local:sealcast:domain/a.example.com",
            false
        ));
        assert!(!wildcard_match(
            "acs:live:*:*:domain/play.example.com",
            "acs:live:local:sealcast:domain/play.example.org",
            false
        ));
        assert!(wildcard_match("a?c", "abc", false) && !wildcard_match("a?c", "ac", false));
        assert!(!wildcard_match("Key/*", "key/x", false), "resources are case-sensitive");
        assert!(wildcard_match("a*b*c", "axxbyyc", false) && !wildcard_match("a*b*c", "axxbyy", false));
    }

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse(text).expect("valid policy")
    }

    #[test]
    fn explicit_deny_wins_and_default_is_deny() {
        let read = doc(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["live:Describe*","kms:Decrypt"],"Resource":"*"}]}"#,
        );
        let deny = doc(r#"{"Statement":[{"Effect":"Deny","Action":"kms:*","Resource":["acs:kms:*:*:key/secret-*"]}]}"#);
        let domain = |d: &str| vec![format!("{ARN_PREFIX_LIVE}domain/{d}")];
        let key = |k: &str| vec![format!("{ARN_PREFIX_KMS}key/{k}")];
        assert_eq!(
            evaluate(std::slice::from_ref(&read), "live:DescribeLiveDomainDetail", &domain("a.com")),
            Decision::Allow
        );
        assert_eq!(
            evaluate(std::slice::from_ref(&read), "live:AddLiveDomain", &domain("a.com")),
            Decision::ImplicitDeny
        );
        assert_eq!(evaluate(&[], "live:DescribeLiveDomainDetail", &domain("a.com")), Decision::ImplicitDeny);
        assert_eq!(evaluate(&[read.clone(), deny.clone()], "kms:Decrypt", &key("k1")), Decision::Allow);
        assert_eq!(evaluate(&[read.clone(), deny], "kms:Decrypt", &key("secret-1")), Decision::ExplicitDeny);
        // Every resource of a multi-domain call must be allowed.
        let one = doc(r#"{"Statement":[{"Effect":"Allow","Action":"live:*","Resource":"acs:live:*:*:domain/a.com"}]}"#);
        let both = vec![domain("a.com")[0].clone(), domain("b.com")[0].clone()];
        assert_eq!(
            evaluate(std::slice::from_ref(&one), "live:BatchSetLiveDomainConfigs", &both),
            Decision::ImplicitDeny
        );
        assert_eq!(evaluate(&[one], "live:BatchSetLiveDomainConfigs", &domain("a.com")), Decision::Allow);
    }

    #[test]
    fn bad_documents_are_refused_with_the_reason() {
        for (text, why) in [
            ("[]", "Statement"),
            (r#"{"Statement":[]}"#, "Statement"),
            (r#"{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}"#, "Effect"),
            (r#"{"Statement":[{"Effect":"Allow","Resource":"*"}]}"#, "Action"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"Decrypt","Resource":"*"}]}"#, "service:Action"),
            (r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":[1]}]}"#, "Resource"),
            (r#"{"Version":"2","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#, "Version"),
            ("not json", "expected"),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#,
                "Condition is not supported",
            ),
            (r#"{"Statement":[{"Effect":"Deny","NotAction":"kms:*","Resource":"*"}]}"#, "NotAction is not supported"),
            (r#"{"Statement":["Allow"]}"#, "JSON object"),
        ] {
            let e = PolicyDocument::parse(text).expect_err(text).to_string();
            assert!(e.contains(why), "{text}: {e}");
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_documents_and_patterns_never_panic(text in "\\PC{0,300}", subject in "\\PC{0,60}") {
            if let Ok(doc) = PolicyDocument::parse(&text) {
                let _ = evaluate(&[doc], "live:AddLiveDomain", &["acs:live:local:sealcast:domain/a.com".into()]);
            }
            let _ = wildcard_match(&text, &subject, true);
            let _ = wildcard_match(&text, &subject, false);
        }

        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(a in "[a-z:/.]{0,20}", b in "[a-z:/.]{0,20}") {
            proptest::prop_assert_eq!(wildcard_match(&a, &b, false), a == b);
            let star = format!("{a}*");
            let joined = format!("{a}{b}");
            proptest::prop_assert!(wildcard_match(&star, &joined, false));
        }
    }

    #[tokio::test]
    async fn users_keys_and_policies_on_every_store() {
        for store in sealcast_store::testing::every_backend().await {
            let kms = Arc::new(
                sealcast_kms::BuiltinKms::open(store.clone(), sealcast_kms::RootKey::from_bytes([3; 32]))
                    .await
                    .expect("kms"),
            );
            let iam = Iam::new(store.clone(), kms);
            assert!(matches!(iam.create_access_key("ghost").await, Err(IamError::NotFound(_))));
            assert!(matches!(iam.create_user("bad name", "").await, Err(IamError::InvalidName(_))));
            iam.create_user("ops", "Operations").await.expect("user");
            assert!(matches!(iam.create_user("ops", "").await, Err(IamError::Exists(_))));
            let k = iam.create_access_key("ops").await.expect("key");
            assert!(iam.keys().secret(&k.access_key_id).await.expect("secret").is_some());
            let resource = vec![format!("{ARN_PREFIX_LIVE}domain/a.com")];
            assert_eq!(
                iam.authorize("ops", "live:AddLiveDomain", &resource).await.expect("eval"),
                Decision::ImplicitDeny
            );
            assert!(iam.put_policy("Broken", "{}", "").await.is_err());
            iam.put_policy("LiveAdmin", r#"{"Statement":[{"Effect":"Allow","Action":"live:*","Resource":"*"}]}"#, "")
                .await
                .expect("policy");
            iam.attach("ops", "LiveAdmin").await.expect("attach");
            assert_eq!(iam.authorize("ops", "live:AddLiveDomain", &resource).await.expect("eval"), Decision::Allow);
            assert_eq!(iam.policies_of("ops").await.expect("list"), vec!["LiveAdmin".to_string()]);
            iam.set_access_key_active(&k.access_key_id, false).await.expect("disable");
            assert!(iam.keys().secret(&k.access_key_id).await.expect("secret").is_none(), "inactive keys stop at once");
            iam.set_access_key_active(&k.access_key_id, true).await.expect("enable");
            iam.delete_access_key(&k.access_key_id).await.expect("delete");
            assert!(iam.keys().secret(&k.access_key_id).await.expect("secret").is_none());
            iam.ensure_admin("root").await.expect("admin");
            iam.ensure_admin("root").await.expect("admin again");
            assert_eq!(iam.authorize("root", "kms:Decrypt", &["*".into()]).await.expect("eval"), Decision::Allow);
            iam.delete_user("ops").await.expect("delete user");
            assert!(matches!(iam.delete_user("ops").await, Err(IamError::NotFound(_))));
        }
    }
}
