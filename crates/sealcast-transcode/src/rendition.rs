//! What a transcoding template produces, and the ffmpeg arguments for it (no IO here).

use std::collections::BTreeMap;

use thiserror::Error;

/// A template that cannot be turned into a rendition.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RenditionError {
    #[error("{template}: {param} {value:?} is invalid: {rule}")]
    Invalid { template: String, param: &'static str, value: String, rule: &'static str },
    #[error("{template}: {0} is not a standard template (lld, lsd, lhd, lud, ld, sd, hd, ud)", template = .0)]
    UnknownStandard(String),
    #[error("{template}: TemplateType {kind:?} is not supported (h264 or audio)")]
    UnsupportedType { template: String, kind: String },
    #[error("{0} is a default template name; give the custom template another name")]
    ReservedName(String),
}

/// Checks a template as it is set (AddLiveStreamTranscode: a standard name;
/// AddCustomLiveStreamTranscode: another name and valid parameters), so a template that could
/// never run is refused then rather than at a publish.
pub fn check_template(
    name: &str,
    custom: bool,
    params: &BTreeMap<String, String>,
) -> Result<Rendition, RenditionError> {
    if !custom {
        return Rendition::standard(name);
    }
    if standard_names().any(|n| n == name) {
        return Err(RenditionError::ReservedName(name.to_string()));
    }
    Rendition::custom(name, params)
}

/// One output of a template: H.264 video at a height (never above the source's) plus AAC
/// audio, or audio only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// The template name; the output stream is `{stream}_{template}`.
    pub template: String,
    /// `None`: audio only.
    pub video: Option<VideoSpec>,
    pub audio_kbps: u32,
}

/// Video settings of a rendition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSpec {
    /// Output height; the width follows the aspect ratio unless given.
    pub height: u32,
    pub width: Option<u32>,
    pub kbps: u32,
    /// Frames per second; `None` keeps the source rate.
    pub fps: Option<u32>,
    /// Keyframe interval in seconds.
    pub gop_secs: u32,
    /// H.264 profile: baseline, main or high.
    pub profile: &'static str,
}

/// Sealcast's standard templates (Alibaba's names; the values are Sealcast's): the
/// `l*` ones favour quality, the narrowband ones (`ld`, `sd`, `hd`, `ud`) bandwidth.
const STANDARD: &[(&str, u32, u32)] = &[
    ("lld", 360, 500),
    ("lsd", 540, 900),
    ("lhd", 720, 1500),
    ("lud", 1080, 3000),
    ("ld", 360, 350),
    ("sd", 540, 650),
    ("hd", 720, 1100),
    ("ud", 1080, 2200),
];

/// The standard template names.
pub fn standard_names() -> impl Iterator<Item = &'static str> {
    STANDARD.iter().map(|(n, _, _)| *n)
}

fn number(
    template: &str,
    params: &BTreeMap<String, String>,
    name: &'static str,
    range: std::ops::RangeInclusive<u32>,
    rule: &'static str,
) -> Result<Option<u32>, RenditionError> {
    let Some(v) = params.get(name).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let invalid = || RenditionError::Invalid { template: template.to_string(), param: name, value: v.clone(), rule };
    let n = v.parse::<u32>().map_err(|_| invalid())?;
    if !range.contains(&n) {
        return Err(invalid());
    }
    Ok(Some(n))
}

impl Rendition {
    /// A standard template by name.
    pub fn standard(template: &str) -> Result<Rendition, RenditionError> {
        let (_, height, kbps) = STANDARD
            .iter()
            .find(|(n, _, _)| *n == template)
            .ok_or_else(|| RenditionError::UnknownStandard(template.to_string()))?;
        Ok(Rendition {
            template: template.to_string(),
            video: Some(VideoSpec {
                height: *height,
                width: None,
                kbps: *kbps,
                fps: None,
                gop_secs: 2,
                profile: "main",
            }),
            audio_kbps: 64,
        })
    }

    /// A custom template from its AddCustomLiveStreamTranscode parameters: `TemplateType`
    /// (h264 — also `h264-nbhd` — or audio), `Height`, `Width`, `FPS`, `VideoBitrate`
    /// (kbps), `Gop` (seconds), `Profile` (1 baseline, 2 main, 3 high), `AudioBitrate` (kbps).
    pub fn custom(template: &str, params: &BTreeMap<String, String>) -> Result<Rendition, RenditionError> {
        let kind = params.get("TemplateType").map(String::as_str).unwrap_or("h264");
        let audio_kbps = number(template, params, "AudioBitrate", 8..=1000, "must be 8-1000 kbps")?.unwrap_or(64);
        if kind == "audio" {
            return Ok(Rendition { template: template.to_string(), video: None, audio_kbps });
        }
        if !matches!(kind, "h264" | "h264-nbhd") {
            return Err(RenditionError::UnsupportedType { template: template.to_string(), kind: kind.to_string() });
        }
        let height = number(template, params, "Height", 128..=2160, "must be 128-2160 pixels")?.unwrap_or(720);
        let width = number(template, params, "Width", 128..=4096, "must be 128-4096 pixels")?;
        let kbps = number(template, params, "VideoBitrate", 100..=20_000, "must be 100-20000 kbps")?.unwrap_or(1500);
        let fps = number(template, params, "FPS", 1..=60, "must be 1-60")?;
        let gop_secs = number(template, params, "Gop", 1..=10, "must be 1-10 seconds")?.unwrap_or(2);
        let profile = match params.get("Profile").map(String::as_str) {
            None | Some("") | Some("2") => "main",
            Some("1") => "baseline",
            Some("3") => "high",
            Some(other) => {
                return Err(RenditionError::Invalid {
                    template: template.to_string(),
                    param: "Profile",
                    value: other.to_string(),
                    rule: "must be 1 (baseline), 2 (main) or 3 (high)",
                })
            }
        };
        Ok(Rendition {
            template: template.to_string(),
            video: Some(VideoSpec { height, width, kbps, fps, gop_secs, profile }),
            audio_kbps,
        })
    }

    /// ffmpeg arguments: FLV on stdin, FLV on stdout. The picture is never scaled up.
    pub fn ffmpeg_args(&self, preset: &str) -> Vec<String> {
        let mut a: Vec<String> =
            ["-hide_banner", "-nostdin", "-loglevel", "error", "-f", "flv", "-i", "pipe:0"].map(String::from).to_vec();
        match &self.video {
            Some(v) => {
                // Never above the source, always even (4:2:0 needs even sizes).
                let height = format!("'trunc(min({},ih)/2)*2'", v.height);
                let width = v.width.map_or("-2".to_string(), |w| format!("'trunc(min({w},iw)/2)*2'"));
                let scale = format!("scale={width}:{height}");
                a.extend(["-map", "0:v:0", "-map", "0:a:0?", "-vf"].map(String::from));
                a.push(match v.fps {
                    Some(fps) => format!("{scale},fps={fps}"),
                    None => scale,
                });
                // A keyframe every gop_secs whatever the frame rate, and none in between.
                let keyframes = format!("expr:gte(t,n_forced*{})", v.gop_secs);
                let gop = v.fps.map_or(600, |fps| fps * v.gop_secs).to_string();
                a.extend(
                    [
                        "-c:v",
                        "libx264",
                        "-preset",
                        preset,
                        "-tune",
                        "zerolatency",
                        "-profile:v",
                        v.profile,
                        "-pix_fmt",
                        "yuv420p",
                        "-b:v",
                        &format!("{}k", v.kbps),
                        "-maxrate",
                        &format!("{}k", v.kbps),
                        "-bufsize",
                        &format!("{}k", v.kbps * 2),
                        "-force_key_frames",
                        &keyframes,
                        "-g",
                        &gop,
                        "-sc_threshold",
                        "0",
                    ]
                    .map(String::from),
                );
            }
            None => a.extend(["-map", "0:a:0", "-vn"].map(String::from)),
        }
        a.extend(
            [
                "-c:a",
                "aac",
                "-b:a",
                &format!("{}k", self.audio_kbps),
                "-ar",
                "44100",
                "-flvflags",
                "no_duration_filesize",
            ]
            .map(String::from),
        );
        a.extend(["-f", "flv", "pipe:1"].map(String::from));
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn standard_templates() {
        let r = Rendition::standard("lld").expect("lld");
        assert_eq!(r.video.as_ref().map(|v| (v.height, v.kbps)), Some((360, 500)));
        assert!(Rendition::standard("origin").is_err());
        assert_eq!(standard_names().count(), 8);
        assert!(matches!(check_template("lld", true, &BTreeMap::new()), Err(RenditionError::ReservedName(_))));
        assert!(check_template("lld", false, &BTreeMap::new()).is_ok());
        assert!(check_template("mine", true, &BTreeMap::new()).is_ok());
        let args = r.ffmpeg_args("veryfast").join(" ");
        assert!(args.contains("scale=-2:'trunc(min(360,ih)/2)*2'"), "{args}");
        assert!(args.contains("-force_key_frames expr:gte(t,n_forced*2)"), "{args}");
        assert!(args.contains("-b:v 500k") && args.ends_with("-f flv pipe:1"), "{args}");
    }

    #[test]
    fn custom_templates() {
        let r = Rendition::custom(
            "my720",
            &params(&[
                ("TemplateType", "h264"),
                ("Height", "720"),
                ("Width", "1280"),
                ("FPS", "30"),
                ("VideoBitrate", "1200"),
                ("Gop", "1"),
                ("Profile", "3"),
            ]),
        )
        .expect("custom");
        let v = r.video.clone().expect("video");
        assert_eq!(
            (v.height, v.width, v.kbps, v.fps, v.gop_secs, v.profile),
            (720, Some(1280), 1200, Some(30), 1, "high")
        );
        let args = r.ffmpeg_args("veryfast").join(" ");
        assert!(args.contains("scale='trunc(min(1280,iw)/2)*2':'trunc(min(720,ih)/2)*2',fps=30"), "{args}");
        assert!(args.contains("-g 30") && args.contains("n_forced*1"), "{args}");
        let audio =
            Rendition::custom("a", &params(&[("TemplateType", "audio"), ("AudioBitrate", "48")])).expect("audio");
        assert_eq!(audio.video, None);
        assert!(audio.ffmpeg_args("veryfast").join(" ").contains("-vn -c:a aac -b:a 48k"));
        for (bad, why) in [
            (params(&[("Height", "99999")]), "Height"),
            (params(&[("FPS", "many")]), "FPS"),
            (params(&[("Profile", "9")]), "Profile"),
            (params(&[("TemplateType", "h266")]), "h266"),
        ] {
            let e = Rendition::custom("x", &bad).expect_err(why).to_string();
            assert!(e.contains(why), "{e}");
        }
    }
}
