//! The embedded NIST CSF catalogs (1.1 and 2.0) and the 1.1 → 2.0 crosswalk.
//!
//! Catalog data lives in `config/catalogs/*.json`, copied from NIST's public-domain text, and is
//! embedded at build time and parsed once, on first use. A control id is validated against the
//! profile's catalog; an id of the other version is an error that names the catalog it belongs
//! to, and the crosswalk suggests its counterpart. This module only answers questions about the
//! catalogs; `parse` decides which answers are errors, and `controls` computes statuses.

use std::sync::LazyLock;

use serde::Deserialize;

/// Which catalog a profile uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum CatalogId {
    Csf11,
    Csf20,
}

/// A control id known to be in the profile's catalog, e.g. `PR.DS-2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ControlId(pub(crate) String);

/// One catalog: its functions and its controls (subcategories), in the framework's order.
#[derive(Debug)]
pub(crate) struct Catalog {
    functions: Vec<FunctionEntry>,
    /// Category ids and NIST's names, e.g. `("PR.DS", "Data Security")`.
    categories: Vec<(String, String)>,
    controls: Vec<ControlEntry>,
}

/// A control (subcategory) of a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ControlEntry {
    /// The id, e.g. `PR.DS-2`.
    pub(crate) id: String,
    /// NIST's outcome text.
    pub(crate) title: String,
    /// The id of the function the control belongs to, e.g. `PR`.
    pub(crate) function: String,
}

/// A function of a catalog, e.g. `PR` / `Protect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionEntry {
    pub(crate) id: String,
    /// The name as NIST writes it (`Protect` in 1.1, `PROTECT` in 2.0).
    pub(crate) name: String,
}

impl CatalogId {
    /// Both catalogs, older first.
    pub(crate) const ALL: [CatalogId; 2] = [CatalogId::Csf11, CatalogId::Csf20];

    /// Parses the name used in configuration (`nist-csf-1.1`, `nist-csf-2.0`).
    pub(crate) fn from_name(name: &str) -> Option<CatalogId> {
        Self::ALL.into_iter().find(|id| id.as_str() == name)
    }

    /// The name used in configuration and in the feed.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CatalogId::Csf11 => "nist-csf-1.1",
            CatalogId::Csf20 => "nist-csf-2.0",
        }
    }

    /// The human name, e.g. `NIST CSF 1.1`.
    pub(crate) fn title(self) -> &'static str {
        match self {
            CatalogId::Csf11 => "NIST CSF 1.1",
            CatalogId::Csf20 => "NIST CSF 2.0",
        }
    }

    /// The other version.
    pub(crate) fn other(self) -> CatalogId {
        match self {
            CatalogId::Csf11 => CatalogId::Csf20,
            CatalogId::Csf20 => CatalogId::Csf11,
        }
    }
}

impl std::fmt::Display for CatalogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for ControlId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Catalog {
    /// The embedded catalog `id`, parsed on first use.
    pub(crate) fn get(id: CatalogId) -> &'static Catalog {
        match id {
            CatalogId::Csf11 => &CSF_1_1,
            CatalogId::Csf20 => &CSF_2_0,
        }
    }

    /// All controls (subcategories), in catalog order.
    pub(crate) fn controls(&self) -> &[ControlEntry] {
        &self.controls
    }

    /// All functions, in catalog order.
    pub(crate) fn functions(&self) -> &[FunctionEntry] {
        &self.functions
    }

    /// The control with this exact id.
    pub(crate) fn control(&self, id: &str) -> Option<&ControlEntry> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// Whether `id` is a category of this catalog (e.g. `PR.DS`), not a control.
    pub(crate) fn is_category(&self, id: &str) -> bool {
        self.categories.iter().any(|(c, _)| c == id)
    }

    /// NIST's name of category `id` (e.g. `PR.DS`).
    pub(crate) fn category_name(&self, id: &str) -> Option<&str> {
        self.categories.iter().find(|(c, _)| c == id).map(|(_, name)| name.as_str())
    }

    /// Whether `id` is a function of this catalog (e.g. `PR`), not a control.
    pub(crate) fn is_function(&self, id: &str) -> bool {
        self.functions.iter().any(|f| f.id == id)
    }
}

/// The function a control belongs to: the part of its id before the first dot (`PR`).
#[cfg(test)]
pub(crate) fn function_of(id: &ControlId) -> &str {
    id.0.split_once('.').map_or(id.0.as_str(), |(function, _)| function)
}

/// The CSF 2.0 ids that intersect CSF 1.1 id `id` (a function, category or subcategory), in
/// crosswalk order; empty when the crosswalk has none.
pub(crate) fn crosswalk_1_1_to_2_0(id: &str) -> Vec<&'static str> {
    CROSSWALK.iter().filter(|(old, _)| old == id).map(|(_, new)| new.as_str()).collect()
}

/// The CSF 1.1 ids that intersect CSF 2.0 id `id`, in crosswalk order.
pub(crate) fn crosswalk_2_0_to_1_1(id: &str) -> Vec<&'static str> {
    CROSSWALK.iter().filter(|(_, new)| new == id).map(|(old, _)| old.as_str()).collect()
}

/// The controls (subcategories) of catalog `to` that intersect control `id` of the other
/// catalog; categories and functions the crosswalk also names are left out.
pub(crate) fn counterparts(id: &str, to: CatalogId) -> Vec<&'static str> {
    let ids = match to {
        CatalogId::Csf20 => crosswalk_1_1_to_2_0(id),
        CatalogId::Csf11 => crosswalk_2_0_to_1_1(id),
    };
    let target = Catalog::get(to);
    let mut found: Vec<&'static str> = Vec::new();
    for id in ids {
        if target.control(id).is_some() && !found.contains(&id) {
            found.push(id);
        }
    }
    found
}

const CSF_1_1_JSON: &str = include_str!("../../config/catalogs/nist-csf-1.1.json");
const CSF_2_0_JSON: &str = include_str!("../../config/catalogs/nist-csf-2.0.json");
const CROSSWALK_JSON: &str = include_str!("../../config/catalogs/crosswalk-csf-1.1-to-2.0.json");

static CSF_1_1: LazyLock<Catalog> = LazyLock::new(|| load_catalog(CatalogId::Csf11, CSF_1_1_JSON));
static CSF_2_0: LazyLock<Catalog> = LazyLock::new(|| load_catalog(CatalogId::Csf20, CSF_2_0_JSON));
static CROSSWALK: LazyLock<Vec<(String, String)>> = LazyLock::new(load_crosswalk);

#[derive(Deserialize)]
struct CatalogFile {
    catalog: String,
    functions: Vec<FunctionFile>,
}

#[derive(Deserialize)]
struct FunctionFile {
    id: String,
    name: String,
    categories: Vec<CategoryFile>,
}

#[derive(Deserialize)]
struct CategoryFile {
    id: String,
    name: String,
    subcategories: Vec<SubcategoryFile>,
}

#[derive(Deserialize)]
struct SubcategoryFile {
    id: String,
    title: String,
}

#[derive(Deserialize)]
struct CrosswalkFile {
    mappings: Vec<MappingFile>,
}

#[derive(Deserialize)]
struct MappingFile {
    csf_1_1: String,
    csf_2_0: String,
}

/// Parses embedded catalog data; the data is part of the binary and covered by tests, so a
/// failure here is a build defect, not an input error.
fn load_catalog(id: CatalogId, json: &str) -> Catalog {
    let file: CatalogFile = serde_json::from_str(json).expect("embedded catalog is valid json");
    assert_eq!(file.catalog, id.as_str(), "embedded catalog names itself");
    let mut catalog =
        Catalog { functions: Vec::new(), categories: Vec::new(), controls: Vec::new() };
    for function in file.functions {
        for category in function.categories {
            catalog.categories.push((category.id, category.name));
            catalog.controls.extend(category.subcategories.into_iter().map(|s| ControlEntry {
                id: s.id,
                title: s.title,
                function: function.id.clone(),
            }));
        }
        catalog.functions.push(FunctionEntry { id: function.id, name: function.name });
    }
    catalog
}

fn load_crosswalk() -> Vec<(String, String)> {
    let file: CrosswalkFile =
        serde_json::from_str(CROSSWALK_JSON).expect("embedded crosswalk is valid json");
    file.mappings.into_iter().map(|m| (m.csf_1_1, m.csf_2_0)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn knows(catalog: &Catalog, id: &str) -> bool {
        catalog.control(id).is_some() || catalog.is_category(id) || catalog.is_function(id)
    }

    #[test]
    fn names_round_trip() {
        for id in CatalogId::ALL {
            assert_eq!(CatalogId::from_name(id.as_str()), Some(id));
        }
        assert_eq!(CatalogId::from_name("nist-csf-1.0"), None);
        assert_eq!(CatalogId::from_name("NIST-CSF-1.1"), None);
    }

    #[test]
    fn csf_1_1_has_108_controls_in_5_functions() {
        let catalog = Catalog::get(CatalogId::Csf11);
        assert_eq!(catalog.controls().len(), 108);
        let functions: Vec<&str> = catalog.functions().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(functions, ["ID", "PR", "DE", "RS", "RC"]);
        assert_eq!(catalog.controls()[0].id, "ID.AM-1");
        assert_eq!(catalog.controls()[107].id, "RC.CO-3");
    }

    #[test]
    fn csf_2_0_has_106_controls_in_6_functions() {
        let catalog = Catalog::get(CatalogId::Csf20);
        assert_eq!(catalog.controls().len(), 106);
        let functions: Vec<&str> = catalog.functions().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(functions, ["GV", "ID", "PR", "DE", "RS", "RC"]);
        assert_eq!(catalog.controls()[0].id, "GV.OC-01");
    }

    #[test]
    fn control_ids_are_unique_and_belong_to_their_function() {
        for id in CatalogId::ALL {
            let catalog = Catalog::get(id);
            let mut seen = HashSet::new();
            for control in catalog.controls() {
                assert!(seen.insert(control.id.as_str()), "{id}: {} twice", control.id);
                let control_id = ControlId(control.id.clone());
                assert_eq!(function_of(&control_id), control.function, "{}", control.id);
                assert!(!control.title.is_empty(), "{}: empty title", control.id);
            }
        }
    }

    #[test]
    fn lookups_answer_per_version() {
        let csf11 = Catalog::get(CatalogId::Csf11);
        let csf20 = Catalog::get(CatalogId::Csf20);
        let entry = csf11.control("PR.DS-2").expect("PR.DS-2 is in CSF 1.1");
        assert_eq!(entry.function, "PR");
        assert!(entry.title.starts_with("Data-in-transit is protected"));
        assert!(csf11.control("PR.DS-02").is_none());
        assert!(csf20.control("PR.DS-02").is_some());
        assert!(csf20.control("PR.DS-2").is_none());
        assert!(csf11.is_category("PR.DS") && !csf11.is_category("PR.DS-2"));
        assert!(csf20.is_function("GV") && !csf11.is_function("GV"));
    }

    #[test]
    fn every_crosswalk_id_exists_in_its_catalog() {
        let csf11 = Catalog::get(CatalogId::Csf11);
        let csf20 = Catalog::get(CatalogId::Csf20);
        assert_eq!(CROSSWALK.len(), 185);
        for (old, new) in CROSSWALK.iter() {
            assert!(knows(csf11, old), "{old} is not in CSF 1.1");
            assert!(knows(csf20, new), "{new} is not in CSF 2.0");
        }
    }

    #[test]
    fn every_csf_1_1_control_has_a_counterpart_except_rc_co_2() {
        let unmapped: Vec<&str> = Catalog::get(CatalogId::Csf11)
            .controls()
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| crosswalk_1_1_to_2_0(id).is_empty())
            .collect();
        assert_eq!(unmapped, ["RC.CO-2"]);
    }

    #[test]
    fn crosswalk_answers_both_ways() {
        assert_eq!(crosswalk_1_1_to_2_0("PR.DS-2"), ["PR.DS-02"]);
        assert_eq!(crosswalk_1_1_to_2_0("PR.DS-5"), ["PR.DS-01", "PR.DS-02", "PR.DS-10"]);
        assert_eq!(crosswalk_2_0_to_1_1("PR.DS-02"), ["PR.DS-2", "PR.DS-5"]);
        assert!(crosswalk_1_1_to_2_0("XX.YY-1").is_empty());
        // Category-level targets are not controls and are left out of counterparts.
        assert_eq!(crosswalk_1_1_to_2_0("ID.GV-1"), ["GV.PO", "GV.PO-01", "GV.PO-02"]);
        assert_eq!(counterparts("ID.GV-1", CatalogId::Csf20), ["GV.PO-01", "GV.PO-02"]);
        assert_eq!(counterparts("PR.DS-02", CatalogId::Csf11), ["PR.DS-2", "PR.DS-5"]);
    }

    #[test]
    fn function_of_takes_the_prefix() {
        assert_eq!(function_of(&ControlId("PR.AC-1".into())), "PR");
        assert_eq!(function_of(&ControlId("GV.OC-01".into())), "GV");
        assert_eq!(function_of(&ControlId("ID".into())), "ID");
    }
}
