//! A small JSON-schema validator, enough for the schemas schemars derives from plugin output
//! types: `type` (including `null` and lists of types), `properties`, `required`,
//! `additionalProperties`, `items`, `enum`, `const`, `anyOf`/`oneOf`/`allOf`, `minItems`,
//! `maxItems`, `minLength`, `minimum`, `maximum`, and local `$ref`s (`#/$defs/...`,
//! `#/definitions/...`). Other keywords (`format`, `description`, …) are ignored: a language
//! model's answer is checked so that the plugin can deserialize it, not for full conformance.

use serde_json::{Map, Value};

/// How deep `$ref`s and nesting may go before the schema is taken to be cyclic.
const MAX_DEPTH: usize = 64;

/// Checks `value` against `schema`. The error names the failing place as a JSON pointer
/// (`/items/0/title`, or `/` for the whole value) and what was expected there.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    Validator { root: schema }.check(schema, value, &mut String::new(), 0)
}

struct Validator<'a> {
    root: &'a Value,
}

impl Validator<'_> {
    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "at {}: the schema nests too deeply (a cyclic $ref?)",
                at(path)
            ));
        }
        let schema = match schema {
            // `true` accepts anything, `false` nothing (schemars emits `true` for `Value`).
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err(format!("at {}: no value is allowed here", at(path))),
            Value::Object(schema) => schema,
            _ => return Err(format!("at {}: the schema is not an object", at(path))),
        };

        if let Some(reference) = schema.get("$ref") {
            let target = self.resolve(reference, path)?;
            self.check(target, value, path, depth + 1)?;
        }
        if let Some(types) = schema.get("type") {
            check_type(types, value, path)?;
        }
        if let Some(Value::Array(allowed)) = schema.get("enum")
            && !allowed.contains(value)
        {
            return Err(format!(
                "at {}: {} is not one of {}",
                at(path),
                short(value),
                Value::Array(allowed.clone())
            ));
        }
        if let Some(expected) = schema.get("const")
            && expected != value
        {
            return Err(format!(
                "at {}: expected {expected}, found {}",
                at(path),
                short(value)
            ));
        }
        self.check_combinators(schema, value, path, depth)?;

        match value {
            Value::Object(object) => self.check_object(schema, object, path, depth),
            Value::Array(items) => self.check_array(schema, items, path, depth),
            Value::String(text) => {
                if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
                    && (text.chars().count() as u64) < min
                {
                    return Err(format!(
                        "at {}: expected at least {min} characters",
                        at(path)
                    ));
                }
                Ok(())
            }
            Value::Number(number) => {
                let Some(number) = number.as_f64() else {
                    return Ok(());
                };
                if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
                    && number < min
                {
                    return Err(format!(
                        "at {}: {number} is less than the minimum {min}",
                        at(path)
                    ));
                }
                if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
                    && number > max
                {
                    return Err(format!(
                        "at {}: {number} is more than the maximum {max}",
                        at(path)
                    ));
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) => Ok(()),
        }
    }

    fn resolve(&self, reference: &Value, path: &str) -> Result<&Value, String> {
        let pointer = reference
            .as_str()
            .and_then(|r| r.strip_prefix('#'))
            .ok_or_else(|| {
                format!(
                    "at {}: only local $refs (\"#/...\") are supported, found {reference}",
                    at(path)
                )
            })?;
        self.root.pointer(pointer).ok_or_else(|| {
            format!(
                "at {}: the schema's $ref {reference} points nowhere",
                at(path)
            )
        })
    }

    fn check_combinators(
        &self,
        schema: &Map<String, Value>,
        value: &Value,
        path: &str,
        depth: usize,
    ) -> Result<(), String> {
        // Sub-checks get their own copy of the path: a failed alternative returns early and
        // would leave its additions behind.
        if let Some(Value::Array(all)) = schema.get("allOf") {
            for sub in all {
                self.check(sub, value, &mut path.to_owned(), depth + 1)?;
            }
        }
        if let Some(Value::Array(any)) = schema.get("anyOf") {
            let mut first_error = None;
            if !any.iter().any(|sub| {
                match self.check(sub, value, &mut path.to_owned(), depth + 1) {
                    Ok(()) => true,
                    Err(e) => {
                        first_error.get_or_insert(e);
                        false
                    }
                }
            }) {
                let reason = first_error.unwrap_or_default();
                return Err(format!(
                    "at {}: matches none of the allowed shapes (first: {reason})",
                    at(path)
                ));
            }
        }
        if let Some(Value::Array(one)) = schema.get("oneOf") {
            let matching = one
                .iter()
                .filter(|sub| {
                    self.check(sub, value, &mut path.to_owned(), depth + 1)
                        .is_ok()
                })
                .count();
            if matching != 1 {
                return Err(format!(
                    "at {}: matches {matching} of the oneOf shapes, expected exactly 1",
                    at(path)
                ));
            }
        }
        Ok(())
    }

    fn check_object(
        &self,
        schema: &Map<String, Value>,
        object: &Map<String, Value>,
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(Value::Array(required)) = schema.get("required") {
            for key in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(key) {
                    return Err(format!(
                        "at {}: missing required property {key:?}",
                        at(path)
                    ));
                }
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        for (key, item) in object {
            let sub = match properties.and_then(|p| p.get(key)) {
                Some(sub) => sub,
                None => match additional {
                    Some(Value::Bool(false)) => {
                        return Err(format!("at {}: unexpected property {key:?}", at(path)));
                    }
                    Some(sub) => sub,
                    None => continue,
                },
            };
            let len = path.len();
            path.push('/');
            path.push_str(&key.replace('~', "~0").replace('/', "~1"));
            self.check(sub, item, path, depth + 1)?;
            path.truncate(len);
        }
        Ok(())
    }

    fn check_array(
        &self,
        schema: &Map<String, Value>,
        items: &[Value],
        path: &mut String,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            return Err(format!(
                "at {}: expected at least {min} items, found {}",
                at(path),
                items.len()
            ));
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            return Err(format!(
                "at {}: expected at most {max} items, found {}",
                at(path),
                items.len()
            ));
        }
        // A list-valued `items` is the old tuple form; schemars 1 emits `prefixItems`
        // instead, and neither occurs in output types, so only the one-schema form is checked.
        if let Some(sub @ (Value::Object(_) | Value::Bool(_))) = schema.get("items") {
            for (index, item) in items.iter().enumerate() {
                let len = path.len();
                path.push('/');
                path.push_str(&index.to_string());
                self.check(sub, item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        Ok(())
    }
}

fn check_type(types: &Value, value: &Value, path: &str) -> Result<(), String> {
    let matches = |name: &str| match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        // 3.0 is an integer to JSON schema; models sometimes write counts that way.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|n| n.fract() == 0.0)
        }
        _ => false,
    };
    let ok = match types {
        Value::String(name) => matches(name),
        Value::Array(names) => names.iter().filter_map(Value::as_str).any(matches),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "at {}: expected {}, found {}",
            at(path),
            type_names(types),
            kind_of(value)
        ))
    }
}

fn type_names(types: &Value) -> String {
    match types {
        Value::String(name) => name.clone(),
        Value::Array(names) => names
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        other => other.to_string(),
    }
}

fn kind_of(value: &Value) -> String {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    format!("{kind} {}", short(value))
}

/// The value as JSON, cut short so that an error about a long answer stays readable.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "/" } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `expected` is `Ok(())` or `Err(part of the message)`.
    fn check(schema: &Value, value: Value, expected: Result<(), &str>) {
        let got = validate(schema, &value);
        match (&got, expected) {
            (Ok(()), Ok(())) => {}
            (Err(message), Err(part)) => {
                assert!(
                    message.contains(part),
                    "{value}: error {message:?} does not contain {part:?}"
                );
            }
            _ => panic!("{value} against {schema}: expected {expected:?}, got {got:?}"),
        }
    }

    #[test]
    fn types() {
        let cases: &[(&str, Value, Result<(), &str>)] = &[
            ("string", json!("x"), Ok(())),
            (
                "string",
                json!(1),
                Err("at /: expected string, found number 1"),
            ),
            ("number", json!(1.5), Ok(())),
            ("number", json!("1"), Err("expected number")),
            ("integer", json!(3), Ok(())),
            ("integer", json!(3.0), Ok(())),
            ("integer", json!(3.5), Err("expected integer")),
            ("integer", json!(-2), Ok(())),
            ("boolean", json!(true), Ok(())),
            ("boolean", json!("true"), Err("expected boolean")),
            ("object", json!({}), Ok(())),
            ("object", json!([]), Err("expected object, found array")),
            ("array", json!([1]), Ok(())),
            ("null", json!(null), Ok(())),
            ("null", json!(0), Err("expected null")),
        ];
        for (kind, value, expected) in cases {
            check(&json!({ "type": kind }), value.clone(), *expected);
        }
        let optional = json!({ "type": ["string", "null"] });
        check(&optional, json!(null), Ok(()));
        check(&optional, json!("x"), Ok(()));
        check(&optional, json!(1), Err("expected string or null"));
    }

    #[test]
    fn objects() {
        let schema = json!({
            "type": "object",
            "required": ["title", "items"],
            "properties": {
                "title": { "type": "string", "minLength": 1 },
                "items": { "type": "array", "items": { "type": "object", "required": ["name"],
                    "properties": { "name": { "type": "string" } } } }
            }
        });
        let cases: &[(Value, Result<(), &str>)] = &[
            (json!({ "title": "T", "items": [] }), Ok(())),
            (
                json!({ "title": "T", "items": [{ "name": "a" }], "extra": 1 }),
                Ok(()),
            ),
            (
                json!({ "items": [] }),
                Err("at /: missing required property \"title\""),
            ),
            (
                json!({ "title": "", "items": [] }),
                Err("at /title: expected at least 1 characters"),
            ),
            (
                json!({ "title": "T", "items": [{ "name": "a" }, {}] }),
                Err("at /items/1: missing required property \"name\""),
            ),
            (
                json!({ "title": "T", "items": [{ "name": 5 }] }),
                Err("at /items/0/name: expected string"),
            ),
            (
                json!({ "title": "T", "items": {} }),
                Err("at /items: expected array"),
            ),
        ];
        for (value, expected) in cases {
            check(&schema, value.clone(), *expected);
        }

        let closed = json!({ "type": "object", "properties": { "a": { "type": "string" } }, "additionalProperties": false });
        check(&closed, json!({ "a": "x" }), Ok(()));
        check(
            &closed,
            json!({ "a": "x", "b": 1 }),
            Err("unexpected property \"b\""),
        );
        let map = json!({ "type": "object", "additionalProperties": { "type": "integer" } });
        check(&map, json!({ "x": 1 }), Ok(()));
        check(
            &map,
            json!({ "a/b": "1" }),
            Err("at /a~1b: expected integer"),
        );
    }

    #[test]
    fn enums_consts_and_bounds() {
        let cases: &[(Value, Value, Result<(), &str>)] = &[
            (json!({ "enum": ["a", "b"] }), json!("a"), Ok(())),
            (
                json!({ "enum": ["a", "b"] }),
                json!("c"),
                Err("\"c\" is not one of [\"a\",\"b\"]"),
            ),
            (json!({ "const": 1 }), json!(1), Ok(())),
            (json!({ "const": 1 }), json!(2), Err("expected 1, found 2")),
            (
                json!({ "type": "integer", "minimum": 0 }),
                json!(-1),
                Err("less than the minimum"),
            ),
            (
                json!({ "type": "number", "maximum": 1 }),
                json!(1.5),
                Err("more than the maximum"),
            ),
            (
                json!({ "type": "array", "minItems": 1 }),
                json!([]),
                Err("at least 1 items"),
            ),
            (
                json!({ "type": "array", "maxItems": 1 }),
                json!([1, 2]),
                Err("at most 1 items"),
            ),
            (json!(true), json!({ "anything": [] }), Ok(())),
            (json!(false), json!(1), Err("no value is allowed")),
            (json!({}), json!(1), Ok(())),
        ];
        for (schema, value, expected) in cases {
            check(schema, value.clone(), *expected);
        }
    }

    #[test]
    fn combinators() {
        let any = json!({ "anyOf": [{ "type": "string" }, { "type": "integer" }] });
        check(&any, json!("x"), Ok(()));
        check(&any, json!(1), Ok(()));
        check(&any, json!(true), Err("matches none of the allowed shapes"));
        let one = json!({ "oneOf": [{ "type": "number" }, { "type": "integer" }] });
        check(&one, json!(1.5), Ok(()));
        check(&one, json!(1), Err("matches 2 of the oneOf shapes"));
        let all =
            json!({ "allOf": [{ "type": "object", "required": ["a"] }, { "required": ["b"] }] });
        check(&all, json!({ "a": 1, "b": 2 }), Ok(()));
        check(
            &all,
            json!({ "a": 1 }),
            Err("missing required property \"b\""),
        );
    }

    #[test]
    fn local_refs() {
        // The shape schemars emits: the root refers to `$defs` for nested types.
        let schema = json!({
            "type": "object",
            "required": ["items"],
            "properties": { "items": { "type": "array", "items": { "$ref": "#/$defs/Item" } },
                            "kind": { "$ref": "#/definitions/Kind" } },
            "$defs": { "Item": { "type": "object", "required": ["name"], "properties": { "name": { "type": "string" } } } },
            "definitions": { "Kind": { "type": "string", "enum": ["x"] } }
        });
        check(
            &schema,
            json!({ "items": [{ "name": "a" }], "kind": "x" }),
            Ok(()),
        );
        check(
            &schema,
            json!({ "items": [{ "nom": "a" }] }),
            Err("at /items/0: missing required property \"name\""),
        );
        check(
            &schema,
            json!({ "items": [], "kind": "y" }),
            Err("at /kind: \"y\" is not one of"),
        );
        check(
            &json!({ "$ref": "#/$defs/Missing" }),
            json!(1),
            Err("points nowhere"),
        );
        check(
            &json!({ "$ref": "https://example.invalid/s.json" }),
            json!(1),
            Err("only local $refs"),
        );
        let cyclic = json!({ "$ref": "#/$defs/A", "$defs": { "A": { "$ref": "#/$defs/A" } } });
        check(&cyclic, json!(1), Err("nests too deeply"));
    }
}
