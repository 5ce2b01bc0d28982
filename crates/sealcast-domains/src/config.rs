//! Per-domain functions, named and parameterised as Alibaba Cloud's domain configs
//! (`BatchSetLiveDomainConfigs`): https_force, http_force, HSTS, https_tls_version,
//! https_option, aliauth.

use sealcast_auth::{AuthType, Policy};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A forced redirect (`https_force` or `http_force`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForceRedirect {
    pub enable: bool,
    /// 301 or 308.
    pub status: u16,
}

impl Default for ForceRedirect {
    fn default() -> Self {
        ForceRedirect { enable: false, status: 301 }
    }
}

/// HSTS (sent on HTTPS responses only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hsts {
    pub enabled: bool,
    pub max_age: u64,
    pub include_subdomains: bool,
}

impl Default for Hsts {
    fn default() -> Self {
        Hsts { enabled: false, max_age: 5_184_000, include_subdomains: false }
    }
}

/// TLS versions and HTTPS options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tls {
    pub tls12: bool,
    pub tls13: bool,
    pub http2: bool,
    pub ocsp_stapling: bool,
}

impl Default for Tls {
    fn default() -> Self {
        Tls { tls12: true, tls13: true, http2: true, ocsp_stapling: false }
    }
}

/// Every function's state for one domain (stored as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct DomainConfig {
    pub https_force: ForceRedirect,
    pub http_force: ForceRedirect,
    pub hsts: Hsts,
    pub tls: Tls,
    /// Playback (and publish) credentials: URL signing.
    pub aliauth: Policy,
}

/// The function names Sealcast implements.
pub const FUNCTIONS: &[&str] = &["https_force", "http_force", "HSTS", "https_tls_version", "https_option", "aliauth"];

fn on_off(function: &str, arg: &str, v: &str) -> Result<bool, DomainError> {
    match v {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(DomainError::InvalidArg {
            function: function.into(),
            arg: arg.into(),
            reason: "must be on or off".into(),
        }),
    }
}

fn redirect_status(function: &str, arg: &str, v: &str) -> Result<u16, DomainError> {
    match v {
        "301" => Ok(301),
        "308" => Ok(308),
        _ => Err(DomainError::InvalidArg {
            function: function.into(),
            arg: arg.into(),
            reason: "must be 301 or 308".into(),
        }),
    }
}

impl DomainConfig {
    /// Applies one function with `argName=argValue` pairs. Unknown functions, arguments and
    /// values are errors; the result is validated as a whole by [`Self::validate`]. On any
    /// error `self` is left unchanged.
    pub fn apply(&mut self, function: &str, args: &[(String, String)]) -> Result<(), DomainError> {
        let mut next = self.clone();
        if function == "aliauth" && !args.iter().any(|(a, _)| a == "auth_type") {
            // Alibaba: setting aliauth without a type means type A.
            next.aliauth.auth_type = AuthType::TypeA;
        }
        next.apply_unchecked(function, args)?;
        *self = next;
        Ok(())
    }

    fn apply_unchecked(&mut self, function: &str, args: &[(String, String)]) -> Result<(), DomainError> {
        let unknown = |arg: &str| DomainError::InvalidArg {
            function: function.into(),
            arg: arg.into(),
            reason: "unknown argument".into(),
        };
        for (arg, v) in args {
            let (arg, v) = (arg.as_str(), v.as_str());
            match (function, arg) {
                ("https_force", "enable") => self.https_force.enable = on_off(function, arg, v)?,
                ("https_force", "https_rewrite") => self.https_force.status = redirect_status(function, arg, v)?,
                ("http_force", "enable") => self.http_force.enable = on_off(function, arg, v)?,
                ("http_force", "http_rewrite") => self.http_force.status = redirect_status(function, arg, v)?,
                ("HSTS", "enabled") => self.hsts.enabled = on_off(function, arg, v)?,
                ("HSTS", "https_hsts_max_age") => {
                    self.hsts.max_age =
                        v.parse().ok().filter(|n| *n <= 63_072_000 * 2).ok_or_else(|| DomainError::InvalidArg {
                            function: function.into(),
                            arg: arg.into(),
                            reason: "must be a number of seconds up to 126144000".into(),
                        })?
                }
                ("HSTS", "https_hsts_include_subdomains") => self.hsts.include_subdomains = on_off(function, arg, v)?,
                ("https_tls_version", "tls10" | "tls11") => {
                    if on_off(function, arg, v)? {
                        return Err(DomainError::InvalidArg {
                            function: function.into(),
                            arg: arg.into(),
                            reason: "TLS 1.0 and TLS 1.1 are unsupported as insecure".into(),
                        });
                    }
                }
                ("https_tls_version", "tls12") => self.tls.tls12 = on_off(function, arg, v)?,
                ("https_tls_version", "tls13") => self.tls.tls13 = on_off(function, arg, v)?,
                ("https_option", "http2") => self.tls.http2 = on_off(function, arg, v)?,
                ("https_option", "ocsp_stapling") => self.tls.ocsp_stapling = on_off(function, arg, v)?,
                ("aliauth", "auth_type") => {
                    self.aliauth.auth_type = AuthType::from_name(v).ok_or_else(|| DomainError::InvalidArg {
                        function: function.into(),
                        arg: arg.into(),
                        reason: "must be type_a, type_b, type_c or no_auth".into(),
                    })?
                }
                ("aliauth", "auth_key1") => self.aliauth.key1 = v.into(),
                ("aliauth", "auth_key2") => self.aliauth.key2 = v.into(),
                ("aliauth", "ali_auth_delta") => {
                    self.aliauth.delta = v.parse().map_err(|_| DomainError::InvalidArg {
                        function: function.into(),
                        arg: arg.into(),
                        reason: "must be a number of seconds".into(),
                    })?
                }
                (f, _) if !FUNCTIONS.contains(&f) => return Err(DomainError::UnknownFunction(f.into())),
                _ => return Err(unknown(arg)),
            }
        }
        if !FUNCTIONS.contains(&function) {
            return Err(DomainError::UnknownFunction(function.into()));
        }
        self.validate()
    }

    /// Resets one function to its defaults.
    pub fn reset(&mut self, function: &str) -> Result<(), DomainError> {
        let d = DomainConfig::default();
        match function {
            "https_force" => self.https_force = d.https_force,
            "http_force" => self.http_force = d.http_force,
            "HSTS" => self.hsts = d.hsts,
            "https_tls_version" => {
                self.tls.tls12 = true;
                self.tls.tls13 = true;
            }
            "https_option" => {
                self.tls.http2 = true;
                self.tls.ocsp_stapling = false;
            }
            "aliauth" => self.aliauth = d.aliauth,
            f => return Err(DomainError::UnknownFunction(f.into())),
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), DomainError> {
        if self.https_force.enable && self.http_force.enable {
            return Err(DomainError::Conflict("https_force and http_force cannot both be on".into()));
        }
        if !self.tls.tls12 && !self.tls.tls13 {
            return Err(DomainError::Conflict("at least one of tls12 and tls13 must stay on".into()));
        }
        self.aliauth.validate().map_err(|e| {
            let arg = match e {
                sealcast_auth::PolicyError::BadKey(k) => k,
                sealcast_auth::PolicyError::MissingKey(_) => "auth_key1",
                sealcast_auth::PolicyError::BadDelta => "ali_auth_delta",
            };
            DomainError::InvalidArg { function: "aliauth".into(), arg: arg.into(), reason: e.to_string() }
        })
    }

    /// The function arguments as Alibaba reports them (`DescribeLiveDomainConfigs`).
    pub fn describe(&self, function: &str) -> Option<Vec<(&'static str, String)>> {
        let oo = |b: bool| if b { "on".to_string() } else { "off".to_string() };
        Some(match function {
            "https_force" => {
                vec![("enable", oo(self.https_force.enable)), ("https_rewrite", self.https_force.status.to_string())]
            }
            "http_force" => {
                vec![("enable", oo(self.http_force.enable)), ("http_rewrite", self.http_force.status.to_string())]
            }
            "HSTS" => vec![
                ("enabled", oo(self.hsts.enabled)),
                ("https_hsts_max_age", self.hsts.max_age.to_string()),
                ("https_hsts_include_subdomains", oo(self.hsts.include_subdomains)),
            ],
            "https_tls_version" => vec![
                ("tls10", oo(false)),
                ("tls11", oo(false)),
                ("tls12", oo(self.tls.tls12)),
                ("tls13", oo(self.tls.tls13)),
            ],
            "https_option" => vec![("http2", oo(self.tls.http2)), ("ocsp_stapling", oo(self.tls.ocsp_stapling))],
            // As Alibaba's DescribeLiveDomainConfigs, the keys are returned to the operator.
            "aliauth" => vec![
                ("auth_type", self.aliauth.auth_type.name().to_string()),
                ("auth_key1", self.aliauth.key1.clone()),
                ("auth_key2", self.aliauth.key2.clone()),
                ("ali_auth_delta", self.aliauth.delta.to_string()),
            ],
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn functions_apply_and_validate() {
        let mut c = DomainConfig::default();
        c.apply("https_force", &args(&[("enable", "on"), ("https_rewrite", "308")])).expect("valid");
        assert_eq!(c.https_force, ForceRedirect { enable: true, status: 308 });
        let before = c.clone();
        assert!(matches!(c.apply("http_force", &args(&[("enable", "on")])), Err(DomainError::Conflict(_))));
        assert_eq!(c, before, "a rejected change leaves the configuration as it was");
        let mut c = before.clone();
        let e = c.apply("https_tls_version", &args(&[("tls10", "on")])).expect_err("TLS 1.0");
        assert!(e.to_string().contains("unsupported as insecure"), "{e}");
        assert!(c.apply("https_tls_version", &args(&[("tls12", "off"), ("tls13", "off")])).is_err());
        assert!(c.tls.tls12 && c.tls.tls13, "unchanged after the rejection");
        assert!(matches!(c.apply("gzip", &args(&[])), Err(DomainError::UnknownFunction(_))));
        assert!(c.apply("HSTS", &args(&[("max", "1")])).is_err());
        assert!(c.apply("HSTS", &args(&[("https_hsts_max_age", "ten")])).is_err());
        assert!(c.apply("https_force", &args(&[("https_rewrite", "302")])).is_err());
        c.apply("https_option", &args(&[("ocsp_stapling", "on")])).expect("stapling");
        assert!(c.tls.ocsp_stapling);
        assert!(c.apply("https_option", &args(&[("ocsp_stapling", "yes")])).is_err());
        let mut c = DomainConfig::default();
        c.apply("aliauth", &args(&[("auth_key1", "primarykey1"), ("ali_auth_delta", "600")])).expect("aliauth");
        assert_eq!(c.aliauth.auth_type, AuthType::TypeA, "type A is the default type");
        assert_eq!(c.aliauth.delta, 600);
        let e = c.apply("aliauth", &args(&[("auth_type", "type_b"), ("auth_key1", "")])).expect_err("no key");
        assert!(e.to_string().contains("auth_key1"), "{e}");
        assert!(c.apply("aliauth", &args(&[("auth_type", "type_d")])).is_err());
        assert!(c.apply("aliauth", &args(&[("ali_auth_delta", "0")])).is_err());
        assert!(c.apply("aliauth", &args(&[("auth_key2", "has space")])).is_err());
        assert_eq!(c.aliauth.key1, "primarykey1", "unchanged after rejections");
        c.apply("aliauth", &args(&[("auth_type", "no_auth")])).expect("off");
        assert!(!c.aliauth.enabled());
        c.reset("aliauth").expect("reset");
        assert_eq!(c.aliauth, Policy::default());
        c.apply("HSTS", &args(&[("enabled", "on"), ("https_hsts_max_age", "63072000")])).expect("hsts");
        assert_eq!(c.describe("HSTS").expect("known")[1].1, "63072000");
        c.reset("HSTS").expect("reset");
        assert!(!c.hsts.enabled);
        let json = serde_json::to_string(&c).expect("json");
        assert_eq!(serde_json::from_str::<DomainConfig>(&json).expect("back"), c);
        assert_eq!(serde_json::from_str::<DomainConfig>("{}").expect("defaults"), DomainConfig::default());
    }
}
