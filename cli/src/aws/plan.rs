//! The plan: a pure difference between the desired state (agent.yaml) and the live
//! state read from AWS. Building it touches no network; printing and applying it
//! are separate steps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use claw_spec::policy_diff::Change;
use serde::Serialize;

use super::target::Target;

/// The kinds of resource claw manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Boundary,
    Role,
    LogGroup,
    Function,
    /// The alias `live` and its published versions (`rollout:`).
    Alias,
    Concurrency,
    /// The function URL (`api.stream`).
    FunctionUrl,
    Table,
    Queue,
    EventSourceMapping,
    Api,
    Integration,
    Authorizer,
    Route,
    Stage,
    Permission,
    Alarm,
    /// The stack's CloudWatch dashboard.
    Dashboard,
    Secret,
    /// GitHub's OIDC identity provider (`claw bootstrap`).
    OidcProvider,
    /// A CI role: the deployer or the plan role (`claw bootstrap`).
    CiRole,
}

impl ResourceKind {
    /// How the kind reads in `claw plan` output.
    pub fn label(self) -> &'static str {
        match self {
            ResourceKind::Boundary => "permissions boundary",
            ResourceKind::Role => "execution role",
            ResourceKind::LogGroup => "log group",
            ResourceKind::Function => "lambda function",
            ResourceKind::Alias => "alias",
            ResourceKind::Concurrency => "reserved concurrency",
            ResourceKind::FunctionUrl => "function url",
            ResourceKind::Table => "dynamodb table",
            ResourceKind::Queue => "sqs queue",
            ResourceKind::EventSourceMapping => "queue mapping",
            ResourceKind::Api => "http api",
            ResourceKind::Integration => "api integration",
            ResourceKind::Authorizer => "jwt authorizer",
            ResourceKind::Route => "api route",
            ResourceKind::Stage => "api stage",
            ResourceKind::Permission => "invoke permission",
            ResourceKind::Alarm => "alarm",
            ResourceKind::Dashboard => "dashboard",
            ResourceKind::Secret => "secret",
            ResourceKind::OidcProvider => "oidc provider",
            ResourceKind::CiRole => "ci role",
        }
    }
}

/// One changed field: `memory_mb 256 → 512`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub from: String,
    pub to: String,
}

impl FieldChange {
    pub fn new(field: &str, from: impl ToString, to: impl ToString) -> FieldChange {
        FieldChange {
            field: field.to_string(),
            from: from.to_string(),
            to: to.to_string(),
        }
    }
}

impl std::fmt::Display for FieldChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} → {}", self.field, self.from, self.to)
    }
}

/// A kind's updatable attributes, one enum per resource kind. Plans record
/// [`Changed`] values of it; apply matches on it exhaustively, so a field the
/// apply does not handle does not compile. The label is only for output.
pub trait Field {
    /// How the field reads in plan output (`memory_mb`, `policy claw-execution`).
    fn label(&self) -> String;
}

/// One typed field change of a kind's update.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed<F> {
    pub field: F,
    pub from: String,
    pub to: String,
}

impl<F: Field> Changed<F> {
    pub fn new(field: F, from: impl ToString, to: impl ToString) -> Changed<F> {
        Changed {
            field,
            from: from.to_string(),
            to: to.to_string(),
        }
    }

    /// The plan row shown for this change.
    pub fn row(&self) -> FieldChange {
        FieldChange {
            field: self.field.label(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }

    /// The tag change between live and desired tags, when there is one.
    pub fn tags(
        field: F,
        live: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) -> Option<Changed<F>> {
        TagDiff::field(live, desired).map(|r| Changed {
            field,
            from: r.from,
            to: r.to,
        })
    }
}

/// The update of typed changes (their rows), or no change when there are none.
pub fn update_of<F: Field>(changes: &[Changed<F>]) -> Action {
    Action::update(changes.iter().map(Changed::row).collect())
}

/// What happens to one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Create,
    Update { fields: Vec<FieldChange> },
    Delete,
    NoChange,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChange {
    pub kind: ResourceKind,
    pub name: String,
    #[serde(flatten)]
    pub action: Action,
    /// Extra context (why a resource is adopted, why a delete needs approval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Action {
    /// An update of these fields, or no change when there are none.
    pub fn update(fields: Vec<FieldChange>) -> Action {
        if fields.is_empty() {
            Action::NoChange
        } else {
            Action::Update { fields }
        }
    }
}

impl ResourceChange {
    pub fn new(kind: ResourceKind, name: impl Into<String>, action: Action) -> ResourceChange {
        ResourceChange {
            kind,
            name: name.into(),
            action,
            note: None,
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> ResourceChange {
        self.note = Some(note.into());
        self
    }

    /// The changed fields of an update (empty otherwise).
    pub fn fields(&self) -> &[FieldChange] {
        match &self.action {
            Action::Update { fields } => fields,
            _ => &[],
        }
    }
}

/// Whether a security change grants or takes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sign {
    Add,
    Remove,
}

/// One row of the security table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityChange {
    pub sign: Sign,
    /// Which document or resource: `role crm-leads-dev-exec policy claw-execution`,
    /// `function crm-leads-dev resource policy`, `route POST /x`.
    pub resource: String,
    /// The permission, principal or authorization, in words.
    pub what: String,
    /// Whether applying it widens who may do what.
    pub broadens: bool,
    /// Set on removals of something claw did not add (found by reading, not by
    /// config): deploy removes these only after approval.
    pub drift: bool,
}

impl SecurityChange {
    /// Security-table rows for a policy change on `resource`: additions broaden,
    /// removals are drift when `drift` says claw did not add them.
    pub fn from_policy_change(resource: &str, change: &Change, drift: bool) -> Vec<SecurityChange> {
        let mut out = Vec::new();
        for p in &change.added {
            out.push(SecurityChange {
                sign: Sign::Add,
                resource: resource.to_string(),
                what: p.to_string(),
                broadens: true,
                drift: false,
            });
        }
        for p in &change.removed {
            out.push(SecurityChange {
                sign: Sign::Remove,
                resource: resource.to_string(),
                what: p.to_string(),
                broadens: false,
                drift,
            });
        }
        out
    }
}

/// A Bedrock inference profile an agent uses, with the destination Regions
/// `GetInferenceProfile` returned and the Regions the execution role allows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileCheck {
    pub profile: String,
    /// A `global.` profile: every commercial Region, which the role allows with
    /// the Region-less model ARN; nothing to compare.
    pub global: bool,
    pub destinations: Vec<String>,
    pub allowed: Vec<String>,
    /// Destinations the role does not allow (each a blocker).
    pub missing: Vec<String>,
}

/// Everything `claw deploy` would do, and why it might refuse.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub app: String,
    pub stage: String,
    pub region: String,
    pub account: String,
    pub changes: Vec<ResourceChange>,
    pub security: Vec<SecurityChange>,
    /// Problems that stop a deploy (missing secrets, resources with claw's names
    /// that claw did not create).
    pub blockers: Vec<String>,
    /// Things worth knowing that change nothing.
    pub notes: Vec<String>,
    /// Likely problems that do not stop a deploy (a VPC function that could not
    /// reach the internet).
    pub warnings: Vec<String>,
    /// The inference profiles checked against their real destinations.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inference_profiles: Vec<ProfileCheck>,
}

impl Plan {
    /// An empty plan for the target's app, stage, region and account.
    pub fn for_target(t: &Target) -> Plan {
        Plan {
            app: t.config.app.clone(),
            stage: t.config.stage.clone(),
            region: t.config.region.clone(),
            account: t.config.account.clone(),
            ..Plan::default()
        }
    }

    pub fn push(&mut self, change: ResourceChange) {
        self.changes.push(change);
    }

    pub fn get(&self, kind: ResourceKind, name: &str) -> Option<&ResourceChange> {
        self.changes
            .iter()
            .find(|c| c.kind == kind && c.name == name)
    }

    /// The planned action for a resource; a resource missing from the plan is left alone.
    pub fn action(&self, kind: ResourceKind, name: &str) -> Action {
        self.get(kind, name)
            .map(|c| c.action.clone())
            .unwrap_or(Action::NoChange)
    }

    pub fn of_kind(&self, kind: ResourceKind) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(move |c| c.kind == kind)
    }

    /// Whether applying the plan would change anything.
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| c.action != Action::NoChange)
    }

    /// Whether permissions broaden or drift would be removed: the cases that need
    /// approval under `--require-approval broadening`.
    pub fn needs_approval(&self) -> bool {
        self.security.iter().any(|s| s.broadens || s.drift)
    }

    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, 0, 0);
        for ch in &self.changes {
            match ch.action {
                Action::Create => c.0 += 1,
                Action::Update { .. } => c.1 += 1,
                Action::Delete => c.2 += 1,
                Action::NoChange => c.3 += 1,
            }
        }
        c
    }

    /// The text form: one line per resource, then the security table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Plan for {}-{} in {} (account {}):\n",
            self.app, self.stage, self.region, self.account
        );
        let width = self
            .changes
            .iter()
            .map(|c| c.kind.label().len())
            .max()
            .unwrap_or(0);
        for c in &self.changes {
            let (sym, verb) = match c.action {
                Action::Create => ('+', "create"),
                Action::Update { .. } => ('~', "update"),
                Action::Delete => ('-', "delete"),
                Action::NoChange => ('=', "no change"),
            };
            let _ = write!(
                out,
                "  {sym} {verb:<9}  {:<width$}  {}",
                c.kind.label(),
                c.name
            );
            let fields = c.fields();
            if !fields.is_empty() {
                let list: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                let _ = write!(out, "  ({})", list.join(", "));
            }
            if let Some(n) = &c.note {
                let _ = write!(out, "  [{n}]");
            }
            out.push('\n');
        }
        if !self.security.is_empty() {
            let _ = writeln!(out, "\nSecurity changes:\n");
            let rw = self
                .security
                .iter()
                .map(|s| s.resource.chars().count())
                .max()
                .unwrap_or(0)
                .max("Resource".len());
            let _ = writeln!(out, "  {:<6}  {:<rw$}  Permission", "Change", "Resource");
            for s in &self.security {
                let sign = match s.sign {
                    Sign::Add => "+",
                    Sign::Remove => "-",
                };
                let mut what = s.what.clone();
                if s.drift {
                    what.push_str("  (added outside claw)");
                }
                let _ = writeln!(out, "  {sign:<6}  {:<rw$}  {what}", s.resource);
            }
        }
        if !self.inference_profiles.is_empty() {
            let _ = writeln!(
                out,
                "\nInference profiles (destinations from GetInferenceProfile):\n"
            );
            for p in &self.inference_profiles {
                let to = if p.global {
                    "every commercial Region (the role names the Region-less model ARN)".to_string()
                } else {
                    p.destinations.join(", ")
                };
                let _ = write!(out, "  {}  {to}", p.profile);
                if !p.missing.is_empty() {
                    let _ = write!(out, "  (not allowed by the role: {})", p.missing.join(", "));
                }
                out.push('\n');
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "\nnote: {n}");
        }
        for w in &self.warnings {
            let _ = writeln!(out, "\nwarning: {w}");
        }
        if !self.blockers.is_empty() {
            out.push('\n');
            for b in &self.blockers {
                let _ = writeln!(out, "error: {b}");
            }
        }
        let (create, update, delete, same) = self.counts();
        let _ = writeln!(
            out,
            "\n{create} to create, {update} to update, {delete} to delete, {same} unchanged."
        );
        out
    }
}

/// A map of tags as `k=v, k=v`, for plan output.
pub fn tags_text(tags: &BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return "(none)".into();
    }
    tags.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tag keys AWS reserves; claw neither sets nor removes them.
fn reserved(key: &str) -> bool {
    key.starts_with("aws:")
}

/// How live tags must change to equal the desired ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TagDiff {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

impl TagDiff {
    pub fn between(live: &BTreeMap<String, String>, desired: &BTreeMap<String, String>) -> TagDiff {
        TagDiff {
            set: desired
                .iter()
                .filter(|(k, v)| live.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            remove: live
                .keys()
                .filter(|k| !reserved(k) && !desired.contains_key(*k))
                .cloned()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.remove.is_empty()
    }

    /// The `tags` field change, when there is one.
    pub fn field(
        live: &BTreeMap<String, String>,
        desired: &BTreeMap<String, String>,
    ) -> Option<FieldChange> {
        let d = TagDiff::between(live, desired);
        if d.is_empty() {
            return None;
        }
        let shown: BTreeMap<String, String> = live
            .iter()
            .filter(|(k, _)| !reserved(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Some(FieldChange::new(
            "tags",
            tags_text(&shown),
            tags_text(desired),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tag_diff_sets_changed_and_removes_stale_but_not_aws_keys() {
        let live = map(&[("a", "1"), ("b", "2"), ("aws:x", "y")]);
        let want = map(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let d = TagDiff::between(&live, &want);
        assert_eq!(d.set, map(&[("b", "3"), ("c", "4")]));
        assert!(d.remove.is_empty());
        let d = TagDiff::between(&map(&[("a", "1"), ("old", "x")]), &map(&[("a", "1")]));
        assert_eq!(d.remove, vec!["old".to_string()]);
        assert!(TagDiff::field(&want, &want).is_none());
    }

    #[test]
    fn renders_one_line_per_resource_and_counts() {
        let mut p = Plan {
            app: "a".into(),
            stage: "dev".into(),
            region: "r".into(),
            account: "1".into(),
            ..Plan::default()
        };
        p.push(ResourceChange::new(
            ResourceKind::Role,
            "a-dev-exec",
            Action::Create,
        ));
        p.push(ResourceChange::new(
            ResourceKind::Function,
            "a-dev",
            Action::Update {
                fields: vec![FieldChange::new("memory_mb", 256, 512)],
            },
        ));
        p.push(ResourceChange::new(
            ResourceKind::Alarm,
            "a-dev-errors",
            Action::NoChange,
        ));
        let text = p.render();
        assert!(text.contains("+ create     execution role"), "{text}");
        assert!(text.contains("(memory_mb 256 → 512)"), "{text}");
        assert!(text.contains("= no change"), "{text}");
        assert!(text.contains("1 to create, 1 to update, 0 to delete, 1 unchanged."));
        assert!(p.has_changes());
        assert!(!p.needs_approval());
    }
}
