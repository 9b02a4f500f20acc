//! Names as the request, the link and the command line spell them (`classic`, `neuron`, `flex`, …): one macro that
//! gives a serde enum `FromStr` (with a message listing the names) and `Display`.

/// `FromStr` and `Display` for `$type`, through its serde names; `$what` names it in the error, `$all` lists its values.
macro_rules! from_name {
    ($type:ty, $what:literal, $all:expr) => {
        impl std::str::FromStr for $type {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
                    let names: Vec<String> = $all.iter().map(|v| v.to_string()).collect();
                    format!("unknown {} '{s}' (expected {})", $what, names.join(", "))
                })
            }
        }

        impl std::fmt::Display for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let name = serde_json::to_value(self).expect("a unit variant serialises to its name");
                f.write_str(name.as_str().expect("a unit variant serialises to a string"))
            }
        }
    };
}

pub(crate) use from_name;
