"""Turn JSON Schema validation errors into located, fixable Problems.

Validation checks `format` too (Draft 2020-12's FormatChecker): date, email, ipv4,
ipv6, uuid, regex always; date-time, time, uri, hostname and the like only when
jsonschema's optional format packages are installed (`jsonschema[format-nongpl]`),
otherwise those formats are accepted unchecked.
"""
from __future__ import annotations

from jsonschema import Draft202012Validator

from dataflow.errors import Problem, did_you_mean
from dataflow.config.yaml_file import YamlDocument

FORMAT_CHECKER = Draft202012Validator.FORMAT_CHECKER
FORMAT_EXAMPLES = {"date": "2024-01-31", "date-time": "2024-01-31T09:30:00Z",
                   "time": "09:30:00Z", "email": "ops@example.com", "ipv4": "192.0.2.10",
                   "ipv6": "2001:db8::1", "uri": "https://example.com/path",
                   "uuid": "123e4567-e89b-12d3-a456-426614174000"}


def _unexpected_keys(error) -> list[str]:
    """Names of the unknown keys an additionalProperties error complains about."""
    if error.validator != "additionalProperties":
        return []
    allowed = set(error.schema.get("properties", {}))
    return [key for key in error.instance if key not in allowed]


def _fix_for(error) -> str:
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return f"remove it or use one of: {allowed}"
    if error.validator == "enum":
        return "use one of: " + ", ".join(map(str, error.validator_value))
    if error.validator == "type":
        return f"give a value of type {error.validator_value}"
    if error.validator == "required":
        return "add the missing key"
    if error.validator == "format":
        example = FORMAT_EXAMPLES.get(error.validator_value)
        return f"give a valid {error.validator_value}" + (f", e.g. {example}" if example else "")
    return "correct the value"


_validators: dict[int, tuple[dict, Draft202012Validator]] = {}


def _validator(schema: dict) -> Draft202012Validator:
    """One validator per schema object (building one costs more than most validations)."""
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _validators[id(schema)] = (
            schema, Draft202012Validator(schema, format_checker=FORMAT_CHECKER))
    return cached[1]


def schema_errors(instance, schema: dict) -> list:
    """All errors of `instance` against `schema`, in document order."""
    validator = _validator(schema)
    return sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))


def document_problems(document: YamlDocument, schema: dict, prefix: tuple = ()) -> list[Problem]:
    """Problems of a YAML document (or a part of it at `prefix`) against a schema."""
    instance = document.data
    for part in prefix:
        instance = instance.get(part, {}) if isinstance(instance, dict) else {}
    problems = []
    for error in schema_errors(instance, schema):
        path = prefix + tuple(error.absolute_path)
        unknown = _unexpected_keys(error)
        for key in unknown:
            hint = did_you_mean(key, error.schema.get("properties", {}))
            problems.append(document.problem(path + (key,), f"unknown key {key!r}{hint}",
                                             _fix_for(error)))
        if not unknown:
            problems.append(document.problem(path, error.message, _fix_for(error)))
    return problems


def config_field_errors(config, schema: dict) -> list[dict]:
    """Field-level errors of a plugin config: [{field, message}] (empty when valid)."""
    found: list[dict] = []
    for error in schema_errors(config, schema):
        field = ".".join(str(part) for part in error.absolute_path) or "(root)"
        unknown = _unexpected_keys(error)
        if unknown:
            known = error.schema.get("properties", {})
            found.extend({"field": key, "message": f"unknown field {key!r}"
                          f"{did_you_mean(key, known)}"} for key in unknown)
        elif error.validator == "format":
            found.append({"field": field, "message": f"{error.message}: {_fix_for(error)}"})
        else:
            found.append({"field": field, "message": error.message})
    return found
