//! The deployment engine's questions as XEP-0004 forms, and the submitted forms as its
//! answers: what the `build` command shows a standard client, step by step.
//!
//! The forms keep the original master's step names (in `instructions`: `manage`, `lfm`,
//! `specialize`, `multiplicity`, `validation`, `call`) and field names (`manage`, `host`,
//! `specialize`, `multiplicity`, the variable's address, `call`). The specialize answer is
//! read from `specialize`, or from `xpath` as the original read it.
//!
//! Every field says its XEP-0004 type, `text-single` included (clients such as profanity
//! leave a field without one unfillable); secrets are asked in `text-private` fields, never
//! proposed in clear. Submitted forms are read leniently: a field without a name or without a
//! value (poezio sends one) is ignored.

use armonic_lifecycle::Value;
use armonic_smart::{Answer, Question, VariableQuestion, parse_value};
use xmpp_parsers::data_forms::{DataForm, DataFormType, Field, FieldType, Option_};
use xmpp_parsers::minidom::Element;
use xmpp_parsers::minidom::rxml::{Namespace, NcName};
use xmpp_parsers::ns;

use crate::limits;

/// The longest provide address a build takes, in bytes.
pub const MAX_ROOT: usize = 1000;

/// `form` as XML, every field with its `type` written out. (xmpp-parsers leaves out
/// `text-single`, the default of XEP-0004, which profanity does not assume.)
pub fn element(form: DataForm) -> Element {
    let mut e = Element::from(form);
    type_fields(&mut e);
    e
}

/// Writes `type='text-single'` on every field of form `e` that has no type.
pub fn type_fields(e: &mut Element) {
    for field in e.children_mut() {
        if field.is("field", ns::DATA_FORMS) && field.attr("type").is_none() {
            if let Ok(name) = NcName::try_from("type") {
                field.set_attr(Namespace::NONE, name, "text-single");
            }
        }
    }
}

/// Reads a submitted form (`<x xmlns='jabber:x:data'>`) leniently: what a standard client
/// sends is taken as it means it. A field without a name or without a value says nothing and
/// is ignored (poezio sends `<field/>` for the fixed fields of the form it answers); a type
/// that is not one of XEP-0004's is taken for text; options, media and validation rules of a
/// submitted field are not read.
pub fn submitted(x: &Element) -> Result<DataForm, String> {
    if !x.is("x", ns::DATA_FORMS) {
        return Err("not a data form".into());
    }
    let type_ = match x.attr("type").unwrap_or("submit") {
        "submit" => DataFormType::Submit,
        "cancel" => DataFormType::Cancel,
        "form" => DataFormType::Form,
        "result" => DataFormType::Result_,
        other => return Err(format!("unknown form type {}", limits::quote(other))),
    };
    let text = |name: &str| x.get_child(name, ns::DATA_FORMS).map(Element::text);
    let fields = x
        .children()
        .filter(|f| f.is("field", ns::DATA_FORMS))
        .filter_map(|f| {
            let var = f.attr("var").filter(|v| !v.is_empty())?;
            let values: Vec<String> = f
                .children()
                .filter(|v| v.is("value", ns::DATA_FORMS))
                .map(Element::text)
                .collect();
            if values.is_empty() {
                return None;
            }
            let type_ = f
                .attr("type")
                .and_then(|t| t.parse::<FieldType>().ok())
                .unwrap_or(FieldType::TextSingle);
            let mut field = Field::new(var, type_);
            field.values = values;
            Some(field)
        })
        .collect();
    Ok(DataForm {
        type_,
        title: text("title"),
        instructions: text("instructions"),
        fields,
    })
}

/// Whether the value `v` asks for is a secret (a `password` variable, or one marked
/// `secret`): asked in a `text-private` field, its proposed value never shown.
pub fn is_secret(v: &VariableQuestion) -> bool {
    v.secret || v.ty == "password"
}

/// The form asking for the provide to build.
pub fn ask_root() -> DataForm {
    let mut xpath = field("xpath", FieldType::TextSingle, "Provide to build");
    xpath.required = true;
    xpath.desc = Some("The address of a provide, such as //WebSite//start".into());
    form(
        DataFormType::Form,
        "Build a provide",
        "Which provide do you want to build?",
        vec![xpath],
    )
}

/// The provide address a submitted first form names.
pub fn root(submitted: Option<&DataForm>) -> Result<String, String> {
    match submitted.and_then(|f| single(f, "xpath")).map(str::trim) {
        Some(x) if x.len() > MAX_ROOT => Err(format!(
            "the address {} is too long: at most {MAX_ROOT} bytes",
            limits::quote(x)
        )),
        Some(x) if !x.is_empty() => Ok(x.to_owned()),
        _ => Err("give the address of a provide to build, such as //WebSite//start".into()),
    }
}

fn form(type_: DataFormType, title: &str, instructions: &str, fields: Vec<Field>) -> DataForm {
    DataForm {
        type_,
        title: Some(title.to_owned()),
        instructions: Some(instructions.to_owned()),
        fields,
    }
}

fn field(var: &str, type_: FieldType, label: &str) -> Field {
    let mut f = Field::new(var, type_);
    f.label = Some(label.to_owned());
    f
}

fn fixed(var: &str, label: &str, text: &str) -> Field {
    let mut f = field(var, FieldType::Fixed, label);
    f.values = vec![text.to_owned()];
    f
}

fn boolean(var: &str, label: &str, value: bool) -> Field {
    let mut f = field(var, FieldType::Boolean, label);
    f.values = vec![if value { "1" } else { "0" }.to_owned()];
    f
}

fn options(values: &[String]) -> Vec<Option_> {
    values
        .iter()
        .map(|v| Option_ {
            label: Some(v.clone()),
            value: v.clone(),
        })
        .collect()
}

/// How a value is shown in a field: text as it is, anything else as JSON.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first value of field `var`, if the form has it.
fn single<'a>(form: &'a DataForm, var: &str) -> Option<&'a str> {
    form.fields
        .iter()
        .find(|f| f.var.as_deref() == Some(var))
        .and_then(|f| f.values.first())
        .map(String::as_str)
}

/// Every value of field `var`.
fn multi<'a>(form: &'a DataForm, var: &str) -> Option<&'a [String]> {
    form.fields
        .iter()
        .find(|f| f.var.as_deref() == Some(var))
        .map(|f| f.values.as_slice())
}

/// A boolean as XEP-0004 writes it.
fn yes_no(text: &str) -> Result<bool, String> {
    match text.trim() {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(format!(
            "{} is neither true (1) nor false (0)",
            limits::quote(other)
        )),
    }
}

/// The field name of the value question about `v`.
pub fn variable_var(v: &VariableQuestion) -> String {
    if v.sets > 1 {
        format!("{}#{}", v.xpath, v.index)
    } else {
        v.xpath.clone()
    }
}

/// The form asking `question`, building `root`; `note` says why it is asked again.
pub fn ask(question: &Question, root: &str) -> DataForm {
    let provide = |xpath: &str| fixed("provide", "Provide", xpath);
    let (step, mut fields) = match question {
        Question::Manage { xpath, .. } => (
            "manage",
            vec![
                provide(xpath),
                boolean("manage", &format!("Do you want to {xpath}?"), true),
            ],
        ),
        Question::Call { xpath, .. } => (
            "call",
            vec![
                provide(xpath),
                boolean(
                    "call",
                    &format!("Call {xpath} when the deployment runs?"),
                    true,
                ),
            ],
        ),
        Question::Location {
            xpath,
            required_by,
            choices,
            suggestion,
            error,
            ..
        } => {
            let mut host = field(
                "host",
                FieldType::ListSingle,
                &format!("Where do you want to {xpath}?"),
            );
            host.required = true;
            host.options = options(choices);
            host.values = suggestion.iter().cloned().collect();
            host.desc = required_by.as_ref().map(|r| {
                let instance = if r.instances > 1 {
                    format!(" (instance {} of {})", r.instance + 1, r.instances)
                } else {
                    String::new()
                };
                format!("Required by {} of {}{instance}", r.require, r.provide)
            });
            let mut fields = vec![provide(xpath), host];
            if let Some(e) = error {
                fields.push(fixed("error", "Refused", e));
            }
            ("lfm", fields)
        }
        Question::Specialize {
            xpath,
            location,
            choices,
            ..
        } => {
            let mut specialize = field(
                "specialize",
                FieldType::ListSingle,
                &format!("Which provide for {xpath} on {location}?"),
            );
            specialize.required = true;
            specialize.options = choices
                .iter()
                .map(|c| Option_ {
                    label: Some(c.label.clone().unwrap_or_else(|| c.xpath.clone())),
                    value: c.xpath.clone(),
                })
                .collect();
            ("specialize", vec![provide(xpath), specialize])
        }
        Question::Multiplicity {
            require,
            provide_xpath,
            external,
            min,
            max,
            suggestion,
            choices,
            suggested_locations,
            error,
            ..
        } => {
            let mut m = if *external {
                let mut m = field(
                    "multiplicity",
                    FieldType::TextSingle,
                    &format!("On which locations do you want {require}? (separated by commas)"),
                );
                m.values = vec![
                    suggested_locations
                        .iter()
                        .take(*suggestion)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                ];
                m.desc = Some(format!(
                    "From {min} to {max} of: {}",
                    if choices.is_empty() {
                        "(no location offers it)".to_owned()
                    } else {
                        choices.join(", ")
                    }
                ));
                m
            } else {
                let mut m = field(
                    "multiplicity",
                    FieldType::TextSingle,
                    &format!("How many instances of {require}?"),
                );
                m.values = vec![suggestion.to_string()];
                m.desc = Some(format!("From {min} to {max}"));
                m
            };
            m.required = true;
            let mut fields = vec![provide(provide_xpath), m];
            if let Some(e) = error {
                fields.push(fixed("error", "Refused", e));
            }
            ("multiplicity", fields)
        }
        Question::Value { variable: v, .. } => {
            let mut f = value_field(v);
            let mut help: Vec<String> = Vec::new();
            if let Some(h) = &v.help {
                help.push(h.clone());
            }
            help.push(format!("type {}", v.ty));
            if is_secret(v) && v.suggestion.is_some() {
                help.push("a value is proposed: leave the field empty to keep it".into());
            }
            if v.sets > 1 {
                help.push(format!("value set {} of {}", v.index + 1, v.sets));
            }
            f.desc = Some(help.join("; "));
            f.required = v.required && v.suggestion.is_none();
            let mut fields = vec![f];
            if let Some(e) = &v.error {
                fields.push(fixed("error", "Refused", e));
            }
            ("validation", fields)
        }
    };
    fields.insert(0, fixed("root", "Building", root));
    form(DataFormType::Form, &title(question), step, fields)
}

fn title(question: &Question) -> String {
    armonic_smart::describe(question)
}

fn value_field(v: &VariableQuestion) -> Field {
    let var = variable_var(v);
    let label = format!("{} ({})", v.label, v.xpath);
    if is_secret(v) {
        // Typed hidden; the proposed value stays with the bridge (left empty, it is kept).
        return field(&var, FieldType::TextPrivate, &label);
    }
    let mut f = if !v.choices.is_empty() {
        let mut f = field(&var, FieldType::ListSingle, &label);
        f.options = options(&v.choices.iter().map(shown).collect::<Vec<_>>());
        f
    } else {
        match v.ty.as_str() {
            "bool" | "armonic_first_instance" => field(&var, FieldType::Boolean, &label),
            "list" | "armonic_hosts" => field(&var, FieldType::TextMulti, &label),
            _ => field(&var, FieldType::TextSingle, &label),
        }
    };
    f.values = match (&v.suggestion, f.type_.clone()) {
        (None, _) => Vec::new(),
        (Some(Value::Bool(b)), FieldType::Boolean) => vec![if *b { "1" } else { "0" }.into()],
        (Some(Value::List(items)), FieldType::TextMulti) => items.iter().map(shown).collect(),
        (Some(other), _) => vec![shown(other)],
    };
    f
}

/// The answer `submitted` gives to `question`, or why it gives none.
pub fn answer(question: &Question, submitted: Option<&DataForm>) -> Result<Answer, String> {
    let empty = DataForm {
        type_: DataFormType::Submit,
        title: None,
        instructions: None,
        fields: Vec::new(),
    };
    let f = submitted.unwrap_or(&empty);
    let given = |var: &str| single(f, var).map(str::trim).filter(|t| !t.is_empty());
    match question {
        Question::Manage { .. } | Question::Call { .. } => {
            let var = if matches!(question, Question::Manage { .. }) {
                "manage"
            } else {
                "call"
            };
            // Left out, the field keeps what the form proposed: yes.
            let yes = match given(var) {
                Some(t) => yes_no(t).map_err(|e| format!("{var}: {e}"))?,
                None => true,
            };
            Ok(if yes { Answer::Yes } else { Answer::No })
        }
        Question::Location { suggestion, .. } => given("host")
            .map(|h| {
                // The original's web frontend sent the location as JSON text.
                serde_json::from_str::<String>(h).unwrap_or_else(|_| h.to_owned())
            })
            .or_else(|| suggestion.clone())
            .map(Answer::Location)
            .ok_or_else(|| "choose a location (field host)".to_owned()),
        Question::Specialize { choices, .. } => {
            let chosen = given("specialize")
                .or_else(|| given("xpath"))
                .ok_or_else(|| "choose a provide (field specialize)".to_owned())?;
            if choices.iter().any(|c| c.xpath == chosen) {
                Ok(Answer::Choice(chosen.to_owned()))
            } else {
                Err(format!(
                    "{} is not one of the choices: {}",
                    limits::quote(chosen),
                    choices
                        .iter()
                        .map(|c| c.xpath.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        Question::Multiplicity {
            external,
            suggestion,
            suggested_locations,
            ..
        } => {
            if *external {
                let locations: Vec<String> = match given("multiplicity") {
                    Some(t) => t
                        .split(',')
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    None => suggested_locations
                        .iter()
                        .take(*suggestion)
                        .cloned()
                        .collect(),
                };
                Ok(Answer::Locations(locations))
            } else {
                match given("multiplicity") {
                    None => Ok(Answer::Count(*suggestion)),
                    Some(t) => t.parse::<usize>().map(Answer::Count).map_err(|_| {
                        format!(
                            "multiplicity: {} is not a number of instances",
                            limits::quote(t)
                        )
                    }),
                }
            }
        }
        Question::Value { variable: v, .. } => {
            let var = variable_var(v);
            let values: Vec<&str> = multi(f, &var)
                .unwrap_or_default()
                .iter()
                .map(String::as_str)
                .collect();
            let text = values.join("\n");
            if text.trim().is_empty() {
                return match (&v.suggestion, v.required) {
                    (Some(s), _) => Ok(Answer::Value(s.clone())),
                    (None, false) => Ok(Answer::Value(Value::Null)),
                    (None, true) => Err(format!("{} needs a value", v.label)),
                };
            }
            Ok(Answer::Value(match v.ty.as_str() {
                "list" | "armonic_hosts" if values.len() > 1 => Value::List(
                    values
                        .iter()
                        .map(|l| l.trim())
                        .filter(|l| !l.is_empty())
                        .map(|l| Value::Str(l.to_owned()))
                        .collect(),
                ),
                "list" | "armonic_hosts" => parse_value(text.trim()),
                "bool" | "armonic_first_instance" => {
                    Value::Bool(yes_no(&text).map_err(|e| format!("{}: {e}", v.label))?)
                }
                // Text as typed: the agent converts and checks it for its type.
                _ => Value::Str(text),
            }))
        }
    }
}

/// The form asking whether to run the deployment `plan` describes.
pub fn confirm(plan: &str, root: &str) -> DataForm {
    let mut shown = field("plan", FieldType::Fixed, "Deployment");
    shown.values = plan.lines().map(str::to_owned).collect();
    form(
        DataFormType::Form,
        &format!("Apply the deployment of {root}?"),
        "apply",
        vec![
            fixed("root", "Building", root),
            shown,
            boolean("apply", "Apply it now?", true),
        ],
    )
}

/// Whether the confirmation form says to apply.
pub fn applied(submitted: Option<&DataForm>) -> Result<bool, String> {
    match submitted.and_then(|f| single(f, "apply")) {
        Some(t) => yes_no(t).map_err(|e| format!("apply: {e}")),
        None => Ok(true),
    }
}

/// The form of a finished deployment: what its root returned, and each step.
pub fn done(
    root: &str,
    deployment: &str,
    succeeded: bool,
    result: Option<&Value>,
    steps: Vec<String>,
) -> DataForm {
    let mut steps_field = field("steps", FieldType::TextMulti, "Steps");
    steps_field.values = steps;
    let mut fields = vec![
        fixed("root", "Built", root),
        boolean("succeeded", "Succeeded", succeeded),
        fixed("deployment_id", "Deployment", deployment),
        steps_field,
    ];
    if let Some(v) = result {
        let mut r = field("call_result", FieldType::TextSingle, "Result");
        r.values = vec![v.to_string()];
        fields.insert(2, r);
    }
    form(
        DataFormType::Result_,
        &format!("Deployment of {root}"),
        if succeeded { "done" } else { "failed" },
        fields,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use armonic_smart::{Choice, Requirer};

    fn submit(fields: &[(&str, &[&str])]) -> DataForm {
        DataForm {
            type_: DataFormType::Submit,
            title: None,
            instructions: None,
            fields: fields
                .iter()
                .map(|(var, values)| {
                    let mut f = Field::new(var, FieldType::TextSingle);
                    f.values = values.iter().map(|v| (*v).to_owned()).collect();
                    f
                })
                .collect(),
        }
    }

    fn variable(ty: &str, suggestion: Option<Value>, required: bool) -> Question {
        Question::Value {
            node: "node_0".into(),
            depth: 0,
            variable: VariableQuestion {
                xpath: "WebServer/Configured/enter/conf/port".into(),
                index: 0,
                sets: 1,
                name: "port".into(),
                label: "Port".into(),
                help: Some("Listening port".into()),
                ty: ty.into(),
                required,
                choices: Vec::new(),
                suggestion,
                error: None,
                secret: ty == "password",
            },
        }
    }

    fn field_of<'a>(form: &'a DataForm, var: &str) -> &'a Field {
        form.fields
            .iter()
            .find(|f| f.var.as_deref() == Some(var))
            .unwrap_or_else(|| panic!("no field {var} in {form:?}"))
    }

    #[test]
    fn the_first_form_asks_for_the_provide_and_refuses_an_empty_answer() {
        let f = ask_root();
        assert!(field_of(&f, "xpath").required);
        assert_eq!(
            root(Some(&submit(&[("xpath", &[" //WebSite//start "])]))).unwrap(),
            "//WebSite//start"
        );
        assert!(root(Some(&submit(&[("xpath", &[""])]))).is_err());
        assert!(root(None).is_err());
    }

    #[test]
    fn steps_keep_the_original_masters_names() {
        let manage = Question::Manage {
            node: "n".into(),
            depth: 0,
            xpath: "//WebSite//start".into(),
        };
        let f = ask(&manage, "//WebSite//start");
        assert_eq!(f.instructions.as_deref(), Some("manage"));
        assert_eq!(field_of(&f, "manage").values, ["1"]);
        assert_eq!(field_of(&f, "root").values, ["//WebSite//start"]);
        assert_eq!(
            answer(&manage, Some(&submit(&[("manage", &["1"])]))),
            Ok(Answer::Yes)
        );
        assert_eq!(
            answer(&manage, Some(&submit(&[("manage", &["false"])]))),
            Ok(Answer::No)
        );
        assert!(answer(&manage, Some(&submit(&[("manage", &["maybe"])]))).is_err());
    }

    #[test]
    fn a_location_is_chosen_among_the_offering_ones() {
        let q = Question::Location {
            node: "n".into(),
            depth: 1,
            xpath: "//WebServer//start".into(),
            required_by: Some(Requirer {
                provide: "WebSite/Active/start".into(),
                require: "webserver".into(),
                instance: 0,
                instances: 1,
            }),
            choices: vec!["web1".into(), "web2".into()],
            suggestion: Some("web1".into()),
            error: None,
        };
        let f = ask(&q, "//WebSite//start");
        assert_eq!(f.instructions.as_deref(), Some("lfm"));
        let host = field_of(&f, "host");
        assert_eq!(host.type_, FieldType::ListSingle);
        assert_eq!(host.options.len(), 2);
        assert_eq!(host.values, ["web1"]);
        assert!(host.desc.as_deref().unwrap().contains("webserver"));
        assert_eq!(
            answer(&q, Some(&submit(&[("host", &["web2"])]))),
            Ok(Answer::Location("web2".into()))
        );
        assert_eq!(
            answer(&q, Some(&submit(&[("host", &["\"web2\""])]))),
            Ok(Answer::Location("web2".into()))
        );
        assert_eq!(answer(&q, None), Ok(Answer::Location("web1".into())));
    }

    #[test]
    fn a_specialization_is_read_from_specialize_or_the_originals_xpath_field() {
        let q = Question::Specialize {
            node: "n".into(),
            depth: 0,
            xpath: "//start".into(),
            location: "web1".into(),
            choices: vec![
                Choice {
                    xpath: "WebSite/Active/start".into(),
                    label: Some("Start the site".into()),
                },
                Choice {
                    xpath: "WebServer/Active/start".into(),
                    label: None,
                },
            ],
        };
        let f = ask(&q, "//start");
        let s = field_of(&f, "specialize");
        assert_eq!(s.options[0].label.as_deref(), Some("Start the site"));
        assert_eq!(
            s.options[1].label.as_deref(),
            Some("WebServer/Active/start")
        );
        assert_eq!(
            answer(
                &q,
                Some(&submit(&[("specialize", &["WebServer/Active/start"])]))
            ),
            Ok(Answer::Choice("WebServer/Active/start".into()))
        );
        assert_eq!(
            answer(&q, Some(&submit(&[("xpath", &["WebSite/Active/start"])]))),
            Ok(Answer::Choice("WebSite/Active/start".into()))
        );
        assert!(answer(&q, Some(&submit(&[("specialize", &["Nope/A/b"])]))).is_err());
        assert!(answer(&q, None).is_err());
    }

    #[test]
    fn multiplicities_are_a_count_or_locations_separated_by_commas() {
        let mut q = Question::Multiplicity {
            node: "n".into(),
            depth: 0,
            require: "WebSite/Active/start/webserver".into(),
            provide_xpath: "//WebServer//start".into(),
            external: true,
            min: 1,
            max: 3,
            suggestion: 1,
            choices: vec!["web1".into(), "web2".into()],
            suggested_locations: vec!["web1".into(), "web2".into()],
            error: None,
        };
        let f = ask(&q, "//WebSite//start");
        assert_eq!(field_of(&f, "multiplicity").values, ["web1"]);
        assert_eq!(
            answer(&q, Some(&submit(&[("multiplicity", &["web1, web2,"])]))),
            Ok(Answer::Locations(vec!["web1".into(), "web2".into()]))
        );
        if let Question::Multiplicity { external, .. } = &mut q {
            *external = false;
        }
        assert_eq!(
            answer(&q, Some(&submit(&[("multiplicity", &["2"])]))),
            Ok(Answer::Count(2))
        );
        assert!(answer(&q, Some(&submit(&[("multiplicity", &["two"])]))).is_err());
        assert_eq!(answer(&q, None), Ok(Answer::Count(1)));
    }

    #[test]
    fn values_are_proposed_as_text_and_read_back_for_the_agent_to_check() {
        let q = variable("port", Some(Value::Int(8080)), true);
        let f = ask(&q, "//WebSite//start");
        assert_eq!(f.instructions.as_deref(), Some("validation"));
        let port = field_of(&f, "WebServer/Configured/enter/conf/port");
        assert_eq!(port.values, ["8080"]);
        assert!(!port.required, "a suggested value needs no typing");
        assert!(port.desc.as_deref().unwrap().contains("Listening port"));
        let typed = submit(&[("WebServer/Configured/enter/conf/port", &["8081"])]);
        assert_eq!(
            answer(&q, Some(&typed)),
            Ok(Answer::Value(Value::from("8081")))
        );
        assert_eq!(answer(&q, None), Ok(Answer::Value(Value::Int(8080))));
        let required = variable("str", None, true);
        assert!(answer(&required, None).is_err());
        let optional = variable("str", None, false);
        assert_eq!(answer(&optional, None), Ok(Answer::Value(Value::Null)));
    }

    #[test]
    fn lists_take_one_item_per_line_and_booleans_the_forms_words() {
        let q = variable("list", Some(Value::from(vec!["a", "b"])), false);
        let f = ask(&q, "//x");
        let field = field_of(&f, "WebServer/Configured/enter/conf/port");
        assert_eq!(field.type_, FieldType::TextMulti);
        assert_eq!(field.values, ["a", "b"]);
        let typed = submit(&[("WebServer/Configured/enter/conf/port", &["x", "y", ""])]);
        assert_eq!(
            answer(&q, Some(&typed)),
            Ok(Answer::Value(Value::from(vec!["x", "y"])))
        );
        let b = variable("bool", Some(Value::Bool(false)), false);
        assert_eq!(
            field_of(&ask(&b, "//x"), "WebServer/Configured/enter/conf/port").values,
            ["0"]
        );
        let typed = submit(&[("WebServer/Configured/enter/conf/port", &["true"])]);
        assert_eq!(
            answer(&b, Some(&typed)),
            Ok(Answer::Value(Value::Bool(true)))
        );
    }

    #[test]
    fn a_refused_answer_is_shown_when_asked_again() {
        let mut q = variable("port", None, true);
        if let Question::Value { variable, .. } = &mut q {
            variable.error = Some("'x' is not an integer".into());
        }
        let f = ask(&q, "//x");
        assert_eq!(field_of(&f, "error").values, ["'x' is not an integer"]);
    }

    /// Every `<field>` of `form` written out, with its `type` attribute.
    fn types_written(form: DataForm) -> Vec<(String, Option<String>)> {
        element(form)
            .children()
            .filter(|f| f.is("field", ns::DATA_FORMS))
            .map(|f| {
                (
                    f.attr("var").unwrap_or_default().to_owned(),
                    f.attr("type").map(str::to_owned),
                )
            })
            .collect()
    }

    #[test]
    fn every_field_of_every_form_says_its_type_text_single_included() {
        assert_eq!(
            types_written(ask_root()),
            [("xpath".to_owned(), Some("text-single".to_owned()))]
        );
        let mut forms = vec![
            ask(&variable("port", Some(Value::Int(80)), true), "//x"),
            ask(&variable("password", None, true), "//x"),
            ask(&variable("bool", None, true), "//x"),
            ask(&variable("list", None, true), "//x"),
            confirm("Deployment of //x\nOrder: node_0", "//x"),
            done("//x", "d1", true, Some(&Value::Int(1)), vec!["a".into()]),
        ];
        forms.push(ask(
            &Question::Manage {
                node: "n".into(),
                depth: 0,
                xpath: "//x".into(),
            },
            "//x",
        ));
        for form in forms {
            let shown = format!("{form:?}");
            for (var, type_) in types_written(form) {
                assert!(type_.is_some(), "field {var} has no type in {shown}");
            }
        }
        let port = types_written(ask(&variable("port", None, true), "//x"));
        assert!(port.contains(&(
            "WebServer/Configured/enter/conf/port".to_owned(),
            Some("text-single".to_owned())
        )));
        let root = types_written(ask(&variable("port", None, true), "//x"));
        assert!(root.contains(&("root".to_owned(), Some("fixed".to_owned()))));
    }

    #[test]
    fn a_password_is_asked_in_a_private_field_and_its_proposed_value_never_shown() {
        let q = variable("password", Some(Value::from("hunter2-secret")), true);
        let f = ask(&q, "//x");
        let field = field_of(&f, "WebServer/Configured/enter/conf/port");
        assert_eq!(field.type_, FieldType::TextPrivate);
        assert!(field.values.is_empty(), "{field:?}");
        let xml = String::from(&element(f));
        assert!(!xml.contains("hunter2-secret"), "{xml}");
        assert!(xml.contains("type='text-private'"), "{xml}");
        // Left empty, the proposed value is kept; typed, the typed one is taken.
        assert_eq!(
            answer(&q, Some(&submit(&[]))),
            Ok(Answer::Value(Value::from("hunter2-secret")))
        );
        let typed = submit(&[("WebServer/Configured/enter/conf/port", &["other-secret"])]);
        assert_eq!(
            answer(&q, Some(&typed)),
            Ok(Answer::Value(Value::from("other-secret")))
        );
        assert!(is_secret(match &q {
            Question::Value { variable, .. } => variable,
            _ => unreachable!(),
        }));
    }

    #[test]
    fn a_variable_marked_secret_is_asked_privately_whatever_its_type() {
        let mut q = variable("str", Some(Value::from("token-abc")), true);
        if let Question::Value { variable, .. } = &mut q {
            variable.secret = true;
        }
        let f = ask(&q, "//x");
        let field = field_of(&f, "WebServer/Configured/enter/conf/port");
        assert_eq!(field.type_, FieldType::TextPrivate);
        assert!(!String::from(&element(f)).contains("token-abc"));
    }

    #[test]
    fn empty_fields_of_a_submitted_form_are_ignored() {
        let x: Element = "<x xmlns='jabber:x:data' type='submit'>\
             <field/><field type='fixed'/><field var='root'/>\
             <field var='xpath'><value>//WebSite//start</value></field>\
             <field var='odd' type='no-such-type'><value>v</value></field></x>"
            .parse()
            .unwrap();
        let form = submitted(&x).unwrap();
        let vars: Vec<_> = form.fields.iter().map(|f| f.var.clone().unwrap()).collect();
        assert_eq!(vars, ["xpath", "odd"]);
        assert_eq!(root(Some(&form)).unwrap(), "//WebSite//start");
        let other: Element = "<y xmlns='jabber:x:data'/>".parse().unwrap();
        assert!(submitted(&other).is_err());
    }

    #[test]
    fn a_huge_answer_is_refused_quoting_it_once_and_short() {
        let huge = "x".repeat(45_000);
        let e = root(Some(&submit(&[("xpath", &[huge.as_str()])]))).unwrap_err();
        assert!(e.len() < 400, "{e}");
        assert!(e.contains("(45000 bytes)"), "{e}");
        let manage = Question::Manage {
            node: "n".into(),
            depth: 0,
            xpath: "//x".into(),
        };
        let e = answer(&manage, Some(&submit(&[("manage", &[huge.as_str()])]))).unwrap_err();
        assert!(e.len() < 400, "{e}");
    }

    #[test]
    fn the_end_form_gives_the_result_and_the_steps() {
        let f = done(
            "//WebSite//start",
            "d1",
            true,
            Some(&Value::from("http://web1:8080/site")),
            vec!["web1 WebServer/Active/start: done".into()],
        );
        assert_eq!(f.type_, DataFormType::Result_);
        assert_eq!(
            field_of(&f, "call_result").values,
            ["\"http://web1:8080/site\""]
        );
        assert_eq!(field_of(&f, "succeeded").values, ["1"]);
        assert!(applied(Some(&submit(&[("apply", &["0"])]))).is_ok_and(|a| !a));
        assert!(applied(None).unwrap());
    }
}
