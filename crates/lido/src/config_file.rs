//! `--config lido.toml`: every flag has a key of the same name (`max-body = 1048576`,
//! `cors = true`, `header = ["X-A: b"]`, `root = "/srv/www"`), and `--print-config` writes
//! the effective settings in that form.
//!
//! A key becomes the flag it names, parsed by the same parser as the command line; an
//! unknown key, a value of the wrong type or a bad value is a one-line error naming the
//! file, the line and the key.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::Path;

use clap::{Arg, ArgAction, ArgMatches};

/// One setting of the file, as command-line arguments.
#[derive(Debug)]
pub(crate) struct Setting {
    /// The flag's id (as `ArgMatches` knows it).
    pub(crate) id: String,
    pub(crate) args: Vec<OsString>,
}

/// Reads `path` and turns each key into the arguments it stands for, checked against
/// `command`.
pub(crate) fn load(path: &Path, command: &clap::Command) -> Result<Vec<Setting>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let spans = toml::de::DeTable::parse(&text).map_err(|e| {
        let line = e.span().map_or(1, |span| line_of(&text, span.start));
        format!("{shown}:{line}: {}", one_line(e.message()))
    })?;
    let values: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{shown}: {}", one_line(e.message())))?;
    let mut settings = Vec::new();
    // In the file's order, so that the first error reported is the first in the file.
    let mut keys: Vec<_> = spans.get_ref().keys().collect();
    keys.sort_by_key(|key| key.span().start);
    for key in keys {
        let name = key.get_ref().as_ref();
        let line = line_of(&text, key.span().start);
        let fail = |why: String| format!("{shown}:{line}: key `{name}`: {why}");
        let Some(arg) = setting_arg(command, name) else {
            let hint = setting_arg(command, &name.replace('_', "-"))
                .map(|_| format!(" (did you mean `{}`?)", name.replace('_', "-")))
                .unwrap_or_default();
            return Err(format!(
                "{shown}:{line}: unknown key `{name}`{hint}; the keys are the flags' names \
                 (see `lido --print-config`)"
            ));
        };
        let Some(value) = values.get(name) else {
            continue;
        };
        let args = to_args(arg, value).map_err(fail)?;
        // The same parser as the command line's checks the value.
        let mut probe = vec![OsString::from("lido")];
        if arg.is_positional() {
            probe.push(OsString::from("--"));
        }
        probe.extend(args.iter().cloned());
        if let Err(err) = command.clone().try_get_matches_from(probe) {
            return Err(fail(crate::cli::first_line(&err)));
        }
        settings.push(Setting {
            id: arg.get_id().to_string(),
            args,
        });
    }
    Ok(settings)
}

/// The flag (or the positional ROOT) a key names, if it is a setting.
fn setting_arg<'a>(command: &'a clap::Command, key: &str) -> Option<&'a Arg> {
    command.get_arguments().find(|arg| {
        let id = arg.get_id().as_str();
        let named = match arg.get_long() {
            Some(long) => long == key,
            None => arg.is_positional() && id == key,
        };
        named && is_setting(arg)
    })
}

fn is_setting(arg: &Arg) -> bool {
    !["help", "version", "config", "print_config"].contains(&arg.get_id().as_str())
}

/// The command-line arguments for `value`.
fn to_args(arg: &Arg, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let flag = |text: &str| match arg.get_long() {
        Some(long) => OsString::from(format!("--{long}={text}")),
        None => OsString::from(text),
    };
    let scalar = |value: &toml::Value| match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(n) => Ok(n.to_string()),
        toml::Value::Float(x) => Ok(x.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        toml::Value::Datetime(_) => Err("a date is not a value of any setting".to_owned()),
        toml::Value::Array(_) => Err("expected one value, not a list".to_owned()),
        toml::Value::Table(_) => Err("expected a value, not a table".to_owned()),
    };
    if !arg.get_action().takes_values() {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![flag_only(arg)]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            other => Err(format!("expected true or false, not {}", other.type_str())),
        };
    }
    if matches!(arg.get_action(), ArgAction::Append)
        && let toml::Value::Array(items) = value
    {
        return items
            .iter()
            .map(|item| scalar(item).map(|s| flag(&s)))
            .collect();
    }
    Ok(vec![flag(&scalar(value)?)])
}

fn flag_only(arg: &Arg) -> OsString {
    OsString::from(format!("--{}", arg.get_long().unwrap_or_default()))
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The effective settings as a config file: every setting, commented with its help, unset
/// ones commented out.
pub(crate) fn print(command: &clap::Command, matches: &ArgMatches) -> String {
    let mut out = String::from(
        "# lido configuration: `lido --config FILE`. Keys are the flags' names; the command\n\
         # line and LIDO_* environment variables override what is set here.\n",
    );
    let mut heading = None;
    for arg in command.get_arguments().filter(|a| is_setting(a)) {
        let key = match arg.get_long() {
            Some(long) => long.to_owned(),
            None => arg.get_id().to_string(),
        };
        if arg.get_help_heading() != heading {
            heading = arg.get_help_heading();
            let _ = write!(out, "\n## {}\n", heading.unwrap_or("Settings"));
        }
        if let Some(help) = arg.get_help() {
            let help = help.to_string();
            let _ = writeln!(out, "# {}", help.lines().next().unwrap_or_default());
        }
        let id = arg.get_id().as_str();
        if !arg.get_action().takes_values() {
            let _ = writeln!(out, "{key} = {}", matches.get_flag(id));
            continue;
        }
        let raw: Vec<String> = matches
            .get_raw(id)
            .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let number = matches!(
            arg.get_value_names()
                .and_then(|n| n.first())
                .map(|n| n.as_str()),
            Some("N" | "BYTES" | "SECS")
        );
        // Numbers as TOML writes them (`.5` -> 0.5, `007` -> 7); anything that is not a
        // finite number is written as the string it was, so the file reads back the same.
        let literal = |text: &str| {
            if number {
                if let Ok(n) = text.parse::<u64>() {
                    return n.to_string();
                }
                if let Ok(x) = text.parse::<f64>()
                    && x.is_finite()
                {
                    return toml::Value::Float(x).to_string();
                }
            }
            toml::Value::String(text.to_owned()).to_string()
        };
        if matches!(arg.get_action(), ArgAction::Append) {
            let items: Vec<String> = raw.iter().map(|v| literal(v)).collect();
            let _ = writeln!(out, "{key} = [{}]", items.join(", "));
        } else {
            // A defaulted address is written commented out: set, it would be bound even when
            // systemd passes the sockets.
            let defaulted_listen = id == "listen"
                && matches.value_source(id) == Some(clap::parser::ValueSource::DefaultValue);
            match raw.first() {
                Some(value) if defaulted_listen => {
                    let _ = writeln!(out, "# {key} = {}", literal(value));
                }
                Some(value) => {
                    let _ = writeln!(out, "{key} = {}", literal(value));
                }
                None => {
                    let _ = writeln!(out, "# {key} = (not set)");
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("lido-config-{name}-{}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    fn load_text(name: &str, text: &str) -> Result<Vec<Setting>, String> {
        let path = write(name, text);
        let result = load(&path, &crate::cli::command());
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn keys_become_flags() {
        let settings = load_text(
            "flags",
            "root = \"/srv\"\nthreads = 4\nhead-timeout = 2.5\ncors = true\nspa = false\n\
             header = [\"X-A: b\", \"X-C: d\"]\nlisten = \"0.0.0.0:80\"\n",
        )
        .unwrap();
        let args: Vec<Vec<String>> = settings
            .iter()
            .map(|s| {
                s.args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(
            args,
            [
                vec!["/srv"],
                vec!["--threads=4"],
                vec!["--head-timeout=2.5"],
                vec!["--cors"],
                vec![],
                vec!["--header=X-A: b", "--header=X-C: d"],
                vec!["--listen=0.0.0.0:80"],
            ]
        );
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let err = load_text("unknown", "threads = 2\n\nmax_body = 5\n").unwrap_err();
        assert!(
            err.contains(":3: unknown key `max_body` (did you mean `max-body`?)"),
            "{err}"
        );
        let err = load_text("type", "threads = 2\ncors = \"yes\"\n").unwrap_err();
        assert!(
            err.ends_with(":2: key `cors`: expected true or false, not string"),
            "{err}"
        );
        let err = load_text("value", "\nthreads = \"many\"\n").unwrap_err();
        assert!(
            err.contains(":2: key `threads`: invalid value 'many'"),
            "{err}"
        );
        let err = load_text("range", "threads = 0\n").unwrap_err();
        assert!(err.contains(":1: key `threads`:"), "{err}");
        let err = load_text("table", "[server]\nthreads = 2\n").unwrap_err();
        assert!(err.contains(":1: unknown key `server`"), "{err}");
        let err = load_text("syntax", "threads = 2\nlisten = \n").unwrap_err();
        assert!(err.contains(":2: "), "{err}");
        assert!(!err.contains('\n'), "{err}");
        let err = load_text("list", "listen = [\"a\", \"b\"]\n").unwrap_err();
        assert!(
            err.ends_with("key `listen`: expected one value, not a list"),
            "{err}"
        );
    }
}
