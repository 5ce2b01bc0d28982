//! `sealcast user …`, `access-key …`, `policy …` and `audit`: the control API's identities,
//! their RAM-style policies and the audit log, on the data directory directly.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Subcommand;
use sealcast_api::iam::Iam;
use sealcast_store::AuditQuery;

use crate::cli::DataArgs;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user (no permissions until a policy is attached).
    Add {
        name: String,
        #[arg(long, default_value = "")]
        display_name: String,
    },
    /// List users with their policies and access keys.
    List,
    /// Delete a user and every access key of it.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AccessKeyCommand {
    /// Create an access key for a user; the secret is printed once and stored only sealed.
    Create {
        #[arg(long)]
        user: String,
    },
    /// List access keys (never their secrets).
    List,
    /// Let a key sign requests again.
    Enable { id: String },
    /// Stop a key from signing requests (takes effect on the next request).
    Disable { id: String },
    /// Delete a key.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Create or replace a policy from a JSON document:
    /// `{"Version":"1","Statement":[{"Effect":"Allow","Action":["live:Describe*"],"Resource":"*"}]}`.
    Put {
        name: String,
        /// File holding the document (`-` for stdin).
        #[arg(long)]
        file: PathBuf,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List policies.
    List,
    /// Print a policy's document.
    Show { name: String },
    /// Delete a policy (detaching it from every user).
    Delete { name: String },
    /// Attach a policy to a user.
    Attach { user: String, policy: String },
    /// Detach a policy from a user.
    Detach { user: String, policy: String },
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Only calls of this user.
    #[arg(long)]
    user: Option<String>,
    /// Only this action, e.g. `kms:Decrypt` or `live:SetLiveDomainCertificate`.
    #[arg(long)]
    action: Option<String>,
    /// Only calls at or after this time (Unix seconds or YYYY-MM-DDThh:mm:ssZ).
    #[arg(long)]
    since: Option<String>,
    /// Only calls at or before this time.
    #[arg(long)]
    until: Option<String>,
    /// At most this many records, newest first.
    #[arg(long, default_value_t = 100)]
    limit: i64,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Instead of listing: delete the records older than this time (retention), e.g. after
    /// archiving them with --json.
    #[arg(long, conflicts_with_all = ["user", "action", "since", "until", "json"])]
    delete_before: Option<String>,
}

async fn iam(data: &DataArgs) -> anyhow::Result<(Iam, sealcast_store::Store)> {
    let (store, kms) = data.open().await?;
    let kms: Arc<dyn sealcast_kms::Kms> = kms;
    Ok((Iam::new(store.clone(), kms), store))
}

fn time(s: &str) -> anyhow::Result<i64> {
    s.parse::<i64>()
        .ok()
        .or_else(|| sealcast_api::call::parse_timestamp(s))
        .with_context(|| format!("{s:?} is neither Unix seconds nor YYYY-MM-DDThh:mm:ssZ"))
}

pub async fn user(data: &DataArgs, cmd: UserCommand) -> anyhow::Result<()> {
    let (iam, _) = iam(data).await?;
    match cmd {
        UserCommand::Add { name, display_name } => {
            iam.create_user(&name, &display_name).await?;
            println!("created user {name}; attach a policy with `sealcast policy attach {name} POLICY`");
        }
        UserCommand::List => {
            let keys = iam.keys().list().await?;
            for u in iam.users().await? {
                let policies = iam.policies_of(&u.user_name).await?;
                let ks: Vec<String> = keys
                    .iter()
                    .filter(|k| k.user_name == u.user_name)
                    .map(|k| format!("{}({})", k.access_key_id, k.state))
                    .collect();
                println!("{}\tpolicies={}\tkeys={}", u.user_name, policies.join(","), ks.join(","));
            }
        }
        UserCommand::Remove { name } => {
            iam.delete_user(&name).await?;
            println!("deleted user {name} and its access keys");
        }
    }
    Ok(())
}

pub async fn access_key(data: &DataArgs, cmd: AccessKeyCommand) -> anyhow::Result<()> {
    let (iam, _) = iam(data).await?;
    match cmd {
        AccessKeyCommand::Create { user } => {
            let k = iam.create_access_key(&user).await?;
            println!("AccessKeyId={}\nAccessKeySecret={}", k.access_key_id, k.access_key_secret);
            eprintln!("the secret is shown only now: store it");
        }
        AccessKeyCommand::List => {
            for k in iam.keys().list().await? {
                let created = sealcast_crypto::civil::rfc3339(k.created_at);
                println!("{}\tuser={}\t{}\tcreated={created}", k.access_key_id, k.user_name, k.state);
            }
        }
        AccessKeyCommand::Enable { id } => {
            iam.set_access_key_active(&id, true).await?;
            println!("{id} is active");
        }
        AccessKeyCommand::Disable { id } => {
            iam.set_access_key_active(&id, false).await?;
            println!("{id} is inactive");
        }
        AccessKeyCommand::Delete { id } => {
            iam.delete_access_key(&id).await?;
            println!("deleted {id}");
        }
    }
    Ok(())
}

pub async fn policy(data: &DataArgs, cmd: PolicyCommand) -> anyhow::Result<()> {
    let (iam, _) = iam(data).await?;
    match cmd {
        PolicyCommand::Put { name, file, description } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).context("cannot read the policy from stdin")?
            } else {
                std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?
            };
            iam.put_policy(&name, &text, &description).await?;
            println!("policy {name} saved");
        }
        PolicyCommand::List => {
            for p in iam.policies().await? {
                println!("{}\t{}", p.policy_name, p.description);
            }
        }
        PolicyCommand::Show { name } => println!("{}", iam.policy(&name).await?.document),
        PolicyCommand::Delete { name } => {
            iam.delete_policy(&name).await?;
            println!("deleted policy {name}");
        }
        PolicyCommand::Attach { user, policy } => {
            iam.attach(&user, &policy).await?;
            println!("attached {policy} to {user}");
        }
        PolicyCommand::Detach { user, policy } => {
            iam.detach(&user, &policy).await?;
            println!("detached {policy} from {user}");
        }
    }
    Ok(())
}

pub async fn audit(data: &DataArgs, args: AuditArgs) -> anyhow::Result<()> {
    let (_, store) = iam(data).await?;
    if let Some(t) = &args.delete_before {
        let before = time(t)?;
        let n = store.audit_delete_before(before).await?;
        println!("deleted {n} audit records from before {}", sealcast_crypto::civil::rfc3339(before));
        return Ok(());
    }
    let q = AuditQuery {
        since: args.since.as_deref().map(time).transpose()?,
        until: args.until.as_deref().map(time).transpose()?,
        user_name: args.user,
        action: args.action,
        limit: args.limit,
    };
    for a in store.audit_query(&q).await? {
        let at = sealcast_crypto::civil::rfc3339(a.at);
        if args.json {
            let v = serde_json::json!({
                "Time": at, "RequestId": a.request_id, "AccessKeyId": a.access_key_id, "User": a.user_name,
                "Action": a.action, "Resource": a.resource, "Result": a.result, "SourceIp": a.source_ip,
            });
            println!("{v}");
        } else {
            println!(
                "{at}\t{}\t{}\t{}\t{}\t{}\tkey={}\tfrom={}",
                a.request_id, a.user_name, a.action, a.resource, a.result, a.access_key_id, a.source_ip
            );
        }
    }
    Ok(())
}
