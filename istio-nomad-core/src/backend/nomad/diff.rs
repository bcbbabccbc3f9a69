//! Structural diffs between job documents, shaped like Nomad's `JobDiff` (used by the
//! in-memory server for plans and version diffs).

use serde_json::{Map, Value};

use super::types::{FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};

/// Job fields the server sets; they never count as a change of the job's specification.
pub(crate) const SERVER_FIELDS: &[&str] = &[
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "SubmitTime",
];

pub(crate) const ADDED: &str = "Added";
pub(crate) const DELETED: &str = "Deleted";
pub(crate) const EDITED: &str = "Edited";
pub(crate) const NONE: &str = "None";

fn is_absent(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Null))
}

fn text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_object() && !i.is_array()) => items
            .iter()
            .map(|i| text(Some(i)))
            .collect::<Vec<_>>()
            .join(","),
        Some(other) => other.to_string(),
    }
}

fn kind(old: Option<&Value>, new: Option<&Value>) -> &'static str {
    match (is_absent(old), is_absent(new)) {
        (true, false) => ADDED,
        (false, true) => DELETED,
        _ => EDITED,
    }
}

fn is_nested(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Object(_)) => true,
        Some(Value::Array(items)) => items.iter().any(|i| i.is_object()),
        _ => false,
    }
}

/// Changed fields and objects between two JSON objects, keys in order, `skip` left out.
fn diff_map(
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    skip: &[&str],
) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let mut keys: Vec<&String> = old
        .into_iter()
        .flat_map(|m| m.keys())
        .chain(new.into_iter().flat_map(|m| m.keys()))
        .collect();
    keys.sort();
    keys.dedup();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for key in keys {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let o = old.and_then(|m| m.get(key));
        let n = new.and_then(|m| m.get(key));
        if o == n || (is_absent(o) && is_absent(n)) {
            continue;
        }
        if is_nested(o) || is_nested(n) {
            objects.extend(diff_nested(key, o, n));
        } else {
            fields.push(FieldDiff {
                kind: kind(o, n).into(),
                name: key.clone(),
                old: text(o),
                new: text(n),
                annotations: Vec::new(),
            });
        }
    }
    (fields, objects)
}

fn diff_nested(name: &str, old: Option<&Value>, new: Option<&Value>) -> Vec<ObjectDiff> {
    match (old, new) {
        (
            Some(Value::Array(_)) | None | Some(Value::Null),
            Some(Value::Array(_)) | None | Some(Value::Null),
        ) if old.is_some_and(Value::is_array) || new.is_some_and(Value::is_array) => {
            let empty = Vec::new();
            let o = old.and_then(Value::as_array).unwrap_or(&empty);
            let n = new.and_then(Value::as_array).unwrap_or(&empty);
            (0..o.len().max(n.len()))
                .filter_map(|i| {
                    let (a, b) = (o.get(i), n.get(i));
                    if a == b {
                        return None;
                    }
                    let (fields, objects) = diff_map(
                        a.and_then(Value::as_object),
                        b.and_then(Value::as_object),
                        &[],
                    );
                    Some(ObjectDiff {
                        kind: kind(a, b).into(),
                        name: name.to_owned(),
                        fields,
                        objects,
                    })
                })
                .collect()
        }
        _ => {
            let (fields, objects) = diff_map(
                old.and_then(Value::as_object),
                new.and_then(Value::as_object),
                &[],
            );
            vec![ObjectDiff {
                kind: kind(old, new).into(),
                name: name.to_owned(),
                fields,
                objects,
            }]
        }
    }
}

fn named<'a>(v: Option<&'a Value>, list: &str) -> Vec<(String, &'a Value)> {
    v.and_then(|j| j.get(list))
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    (
                        i.get("Name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        i,
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn pair_by_name<'a>(
    old: Option<&'a Value>,
    new: Option<&'a Value>,
    list: &str,
) -> Vec<(String, Option<&'a Value>, Option<&'a Value>)> {
    let o = named(old, list);
    let n = named(new, list);
    let mut out: Vec<(String, Option<&Value>, Option<&Value>)> = Vec::new();
    for (name, v) in &o {
        let nv = n.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
        out.push((name.clone(), Some(*v), nv));
    }
    for (name, v) in &n {
        if !o.iter().any(|(k, _)| k == name) {
            out.push((name.clone(), None, Some(*v)));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn diff_kind(old: Option<&Value>, new: Option<&Value>, changed: bool) -> &'static str {
    match (old.is_some(), new.is_some()) {
        (false, true) => ADDED,
        (true, false) => DELETED,
        _ if changed => EDITED,
        _ => NONE,
    }
}

/// The task's diff (kind `None` when unchanged).
pub(crate) fn task_diff(name: &str, old: Option<&Value>, new: Option<&Value>) -> TaskDiff {
    let (fields, objects) = diff_map(
        old.and_then(Value::as_object),
        new.and_then(Value::as_object),
        &[],
    );
    let changed = !fields.is_empty() || !objects.is_empty();
    let k = diff_kind(old, new, changed);
    let annotations = if k == NONE {
        Vec::new()
    } else {
        vec!["forces create/destroy update".to_owned()]
    };
    TaskDiff {
        kind: k.into(),
        name: name.to_owned(),
        fields,
        objects,
        annotations,
    }
}

/// The group's diff, without scheduler updates (kind `None` when unchanged).
pub(crate) fn group_diff(name: &str, old: Option<&Value>, new: Option<&Value>) -> TaskGroupDiff {
    let (fields, objects) = diff_map(
        old.and_then(Value::as_object),
        new.and_then(Value::as_object),
        &["Tasks"],
    );
    let tasks: Vec<TaskDiff> = pair_by_name(old, new, "Tasks")
        .into_iter()
        .map(|(n, o, nw)| task_diff(&n, o, nw))
        .filter(|t| t.kind != NONE)
        .collect();
    let changed = !fields.is_empty() || !objects.is_empty() || !tasks.is_empty();
    TaskGroupDiff {
        kind: diff_kind(old, new, changed).into(),
        name: name.to_owned(),
        fields,
        objects,
        tasks,
        updates: Default::default(),
    }
}

/// Removes the server-set fields of a job.
pub(crate) fn spec_of(job: &Value) -> Value {
    let mut j = job.clone();
    if let Some(m) = j.as_object_mut() {
        for f in SERVER_FIELDS {
            m.remove(*f);
        }
    }
    j
}

/// The diff from `old` to `new` (either may be absent), server-set fields ignored.
pub(crate) fn job_diff(id: &str, old: Option<&Value>, new: Option<&Value>) -> JobDiff {
    let old = old.map(spec_of);
    let new = new.map(spec_of);
    let mut skip: Vec<&str> = SERVER_FIELDS.to_vec();
    skip.push("TaskGroups");
    let (fields, objects) = diff_map(
        old.as_ref().and_then(Value::as_object),
        new.as_ref().and_then(Value::as_object),
        &skip,
    );
    let task_groups: Vec<TaskGroupDiff> = pair_by_name(old.as_ref(), new.as_ref(), "TaskGroups")
        .into_iter()
        .map(|(n, o, nw)| group_diff(&n, o, nw))
        .collect();
    let changed =
        !fields.is_empty() || !objects.is_empty() || task_groups.iter().any(|g| g.kind != NONE);
    JobDiff {
        kind: diff_kind(old.as_ref(), new.as_ref(), changed).into(),
        id: id.to_owned(),
        fields,
        objects,
        task_groups,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unchanged_job_has_kind_none() {
        let j = json!({"ID": "web", "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "docker"}]}]});
        let mut registered = j.clone();
        registered["Version"] = json!(3);
        registered["ModifyIndex"] = json!(40);
        let d = job_diff("web", Some(&registered), Some(&j));
        assert_eq!(d.kind, NONE);
        assert!(d.fields.is_empty());
        assert_eq!(d.task_groups.len(), 1);
        assert_eq!(d.task_groups[0].kind, NONE);
    }

    #[test]
    fn edits_are_located() {
        let old = json!({"ID": "web", "Priority": 50, "Meta": {"a": "1"},
            "TaskGroups": [{"Name": "g", "Count": 1, "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx:1"}}]}]});
        let new = json!({"ID": "web", "Priority": 60, "Meta": {"a": "2"},
            "TaskGroups": [{"Name": "g", "Count": 2, "Tasks": [{"Name": "t", "Driver": "docker", "Config": {"image": "nginx:2"}}]},
                           {"Name": "h", "Count": 1, "Tasks": []}]});
        let d = job_diff("web", Some(&old), Some(&new));
        assert_eq!(d.kind, EDITED);
        assert_eq!(
            d.fields,
            vec![FieldDiff {
                kind: EDITED.into(),
                name: "Priority".into(),
                old: "50".into(),
                new: "60".into(),
                annotations: vec![]
            }]
        );
        assert_eq!(d.objects[0].name, "Meta");
        assert_eq!(d.objects[0].fields[0].new, "2");
        let g = &d.task_groups[0];
        assert_eq!((g.name.as_str(), g.kind.as_str()), ("g", EDITED));
        assert_eq!(g.fields[0].name, "Count");
        assert_eq!(g.tasks[0].objects[0].name, "Config");
        assert_eq!(g.tasks[0].objects[0].fields[0].old, "nginx:1");
        assert_eq!(
            g.tasks[0].annotations,
            vec!["forces create/destroy update".to_owned()]
        );
        assert_eq!(
            (
                d.task_groups[1].name.as_str(),
                d.task_groups[1].kind.as_str()
            ),
            ("h", ADDED)
        );
    }

    #[test]
    fn new_job_is_added() {
        let new = json!({"ID": "web", "Datacenters": ["dc1", "dc2"], "TaskGroups": []});
        let d = job_diff("web", None, Some(&new));
        assert_eq!(d.kind, ADDED);
        let dcs = d
            .fields
            .iter()
            .find(|f| f.name == "Datacenters")
            .map(|f| f.new.clone());
        assert_eq!(dcs.as_deref(), Some("dc1,dc2"));
    }
}
