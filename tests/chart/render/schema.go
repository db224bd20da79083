package main

// A JSON-schema (draft-07) validator for the subset of keywords the chart's
// values.schema.json uses, so that rendering fails on bad values as
// `helm install` does. A keyword outside the subset is an error, never
// silently ignored: the schema cannot promise a check this validator (or
// the tests) does not make.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Keywords that only annotate.
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true,
	"description": true, "default": true, "examples": true,
	"definitions": true,
}

// Keywords this validator checks.
var assertions = map[string]bool{
	"type": true, "properties": true, "additionalProperties": true,
	"required": true, "enum": true, "const": true, "pattern": true,
	"minimum": true, "maximum": true, "exclusiveMinimum": true,
	"minLength": true, "maxLength": true, "items": true,
	"minItems": true, "maxItems": true, "uniqueItems": true,
	"oneOf": true, "anyOf": true, "allOf": true, "not": true,
	"$ref": true, "minProperties": true, "propertyNames": true,
}

type validator struct {
	root map[string]interface{}
	errs []string
}

func validateValues(chartDir string, values map[string]interface{}) error {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var schema map[string]interface{}
	if err := json.Unmarshal(b, &schema); err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if err := checkKeywords(schema, "#"); err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	v := &validator{root: schema}
	v.validate(schema, values, "")
	if len(v.errs) == 0 {
		return nil
	}
	sort.Strings(v.errs)
	return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n- %s",
		strings.Join(v.errs, "\n- "))
}

// checkKeywords walks every subschema and rejects unknown keywords.
func checkKeywords(s interface{}, at string) error {
	m, ok := s.(map[string]interface{})
	if !ok {
		if _, isBool := s.(bool); isBool {
			return nil
		}
		return fmt.Errorf("%s: a schema must be an object or a boolean", at)
	}
	for k, x := range m {
		if !annotations[k] && !assertions[k] {
			return fmt.Errorf("%s: keyword %q is not supported by the test validator", at, k)
		}
		switch k {
		case "properties", "definitions":
			sub, ok := x.(map[string]interface{})
			if !ok {
				return fmt.Errorf("%s/%s: must be an object", at, k)
			}
			for name, y := range sub {
				if err := checkKeywords(y, at+"/"+k+"/"+name); err != nil {
					return err
				}
			}
		case "additionalProperties", "items", "not", "propertyNames":
			if err := checkKeywords(x, at+"/"+k); err != nil {
				return err
			}
		case "oneOf", "anyOf", "allOf":
			list, ok := x.([]interface{})
			if !ok {
				return fmt.Errorf("%s/%s: must be an array", at, k)
			}
			for i, y := range list {
				if err := checkKeywords(y, fmt.Sprintf("%s/%s/%d", at, k, i)); err != nil {
					return err
				}
			}
		case "pattern":
			p, _ := x.(string)
			if _, err := regexp.Compile(p); err != nil {
				return fmt.Errorf("%s/pattern: %v", at, err)
			}
		}
	}
	return nil
}

func (v *validator) fail(at, format string, args ...interface{}) {
	if at == "" {
		at = "(root)"
	}
	v.errs = append(v.errs, at+": "+fmt.Sprintf(format, args...))
}

func child(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}

func (v *validator) resolve(ref string) (interface{}, bool) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	var cur interface{} = v.root
	for _, part := range strings.Split(ref[2:], "/") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil, false
		}
		cur, ok = m[part]
		if !ok {
			return nil, false
		}
	}
	return cur, true
}

// valid reports whether x matches s without recording errors.
func (v *validator) valid(s interface{}, x interface{}, at string) bool {
	sub := &validator{root: v.root}
	sub.validate(s, x, at)
	return len(sub.errs) == 0
}

func typeOf(x interface{}) string {
	switch t := x.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if t == math.Trunc(t) {
			return "integer"
		}
		return "number"
	case []interface{}:
		return "array"
	case map[string]interface{}:
		return "object"
	}
	return fmt.Sprintf("%T", x)
}

func typeMatches(want string, x interface{}) bool {
	got := typeOf(x)
	return got == want || (want == "number" && got == "integer")
}

func (v *validator) validate(s interface{}, x interface{}, at string) {
	if b, ok := s.(bool); ok {
		if !b {
			v.fail(at, "no value is allowed here")
		}
		return
	}
	m := s.(map[string]interface{})
	if ref, ok := m["$ref"].(string); ok {
		target, found := v.resolve(ref)
		if !found {
			v.fail(at, "schema $ref %q not found", ref)
			return
		}
		v.validate(target, x, at)
	}
	if t, ok := m["type"]; ok {
		var types []string
		switch tt := t.(type) {
		case string:
			types = []string{tt}
		case []interface{}:
			for _, y := range tt {
				types = append(types, fmt.Sprint(y))
			}
		}
		ok := false
		for _, want := range types {
			if typeMatches(want, x) {
				ok = true
			}
		}
		if !ok {
			v.fail(at, "Invalid type. Expected: %s, given: %s",
				strings.Join(types, " or "), typeOf(x))
			return
		}
	}
	if e, ok := m["enum"].([]interface{}); ok {
		found := false
		for _, y := range e {
			if reflect.DeepEqual(y, x) {
				found = true
			}
		}
		if !found {
			v.fail(at, "must be one of the following: %s", enumText(e))
		}
	}
	if c, ok := m["const"]; ok && !reflect.DeepEqual(c, x) {
		v.fail(at, "does not match: %v", c)
	}
	switch t := x.(type) {
	case string:
		v.validateString(m, t, at)
	case float64:
		v.validateNumber(m, t, at)
	case []interface{}:
		v.validateArray(m, t, at)
	case map[string]interface{}:
		v.validateObject(m, t, at)
	}
	if list, ok := m["allOf"].([]interface{}); ok {
		for _, y := range list {
			v.validate(y, x, at)
		}
	}
	if list, ok := m["anyOf"].([]interface{}); ok {
		n := 0
		for _, y := range list {
			if v.valid(y, x, at) {
				n++
			}
		}
		if n == 0 {
			v.fail(at, "must validate at least one schema (anyOf)")
		}
	}
	if list, ok := m["oneOf"].([]interface{}); ok {
		n := 0
		for _, y := range list {
			if v.valid(y, x, at) {
				n++
			}
		}
		if n != 1 {
			v.fail(at, "must validate one and only one schema (oneOf), matched %d", n)
		}
	}
	if not, ok := m["not"]; ok && v.valid(not, x, at) {
		v.fail(at, "must not validate the schema (not)")
	}
}

func enumText(e []interface{}) string {
	var parts []string
	for _, y := range e {
		b, _ := json.Marshal(y)
		parts = append(parts, string(b))
	}
	return strings.Join(parts, ", ")
}

func num(m map[string]interface{}, k string) (float64, bool) {
	f, ok := m[k].(float64)
	return f, ok
}

func (v *validator) validateString(m map[string]interface{}, s, at string) {
	n := float64(utf8.RuneCountInString(s))
	if min, ok := num(m, "minLength"); ok && n < min {
		v.fail(at, "String length must be greater than or equal to %v", min)
	}
	if max, ok := num(m, "maxLength"); ok && n > max {
		v.fail(at, "String length must be less than or equal to %v", max)
	}
	if p, ok := m["pattern"].(string); ok {
		if !regexp.MustCompile(p).MatchString(s) {
			v.fail(at, "Does not match pattern '%s'", p)
		}
	}
}

func (v *validator) validateNumber(m map[string]interface{}, f float64, at string) {
	if min, ok := num(m, "minimum"); ok && f < min {
		v.fail(at, "Must be greater than or equal to %v", min)
	}
	if min, ok := num(m, "exclusiveMinimum"); ok && f <= min {
		v.fail(at, "Must be greater than %v", min)
	}
	if max, ok := num(m, "maximum"); ok && f > max {
		v.fail(at, "Must be less than or equal to %v", max)
	}
}

func (v *validator) validateArray(m map[string]interface{}, a []interface{}, at string) {
	if min, ok := num(m, "minItems"); ok && float64(len(a)) < min {
		v.fail(at, "Array must have at least %v items", min)
	}
	if max, ok := num(m, "maxItems"); ok && float64(len(a)) > max {
		v.fail(at, "Array must have at most %v items", max)
	}
	if u, _ := m["uniqueItems"].(bool); u {
		for i := range a {
			for j := i + 1; j < len(a); j++ {
				if reflect.DeepEqual(a[i], a[j]) {
					v.fail(at, "array items[%d,%d] must be unique", i, j)
				}
			}
		}
	}
	if items, ok := m["items"]; ok {
		for i, y := range a {
			v.validate(items, y, fmt.Sprintf("%s.%d", at, i))
		}
	}
}

func (v *validator) validateObject(m map[string]interface{}, o map[string]interface{}, at string) {
	if req, ok := m["required"].([]interface{}); ok {
		for _, r := range req {
			if _, present := o[fmt.Sprint(r)]; !present {
				v.fail(at, "%s is required", r)
			}
		}
	}
	if min, ok := num(m, "minProperties"); ok && float64(len(o)) < min {
		v.fail(at, "must have at least %v properties", min)
	}
	props, _ := m["properties"].(map[string]interface{})
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if pn, ok := m["propertyNames"]; ok {
			v.validate(pn, k, child(at, k))
		}
		if ps, ok := props[k]; ok {
			v.validate(ps, o[k], child(at, k))
			continue
		}
		if ap, ok := m["additionalProperties"]; ok {
			if b, isBool := ap.(bool); isBool && !b {
				v.fail(child(at, k), "Additional property %s is not allowed", k)
				continue
			}
			v.validate(ap, o[k], child(at, k))
		}
	}
}
