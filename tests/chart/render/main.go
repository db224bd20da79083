// Command render renders a Helm chart the way `helm template` does, for the
// subset of Helm the chart under charts/ uses, so the chart can be tested on
// a machine without helm (only Debian's Go and sprig packages).
//
//	render -chart DIR [-name RELEASE] [-namespace NS] [-values FILE]...
//	       [-kube-version 1.30.0] [-api-versions group/version[/Kind]]...
//	       [-strict] [-notes] [-schema-only]
//
// What it implements, after Helm 3 (pkg/engine, pkg/chartutil):
//   - values: the chart's values.yaml coalesced with each -values file in
//     order (maps merge key by key, anything else replaces, null deletes a
//     default); numbers become float64 as in Helm, which reads values
//     through JSON;
//   - validation of the merged values against values.schema.json (schema.go,
//     the JSON-schema subset the chart uses; an unsupported keyword is an
//     error so the schema cannot silently rely on it);
//   - Chart.yaml's kubeVersion checked against -kube-version;
//   - templates: every file under templates/ parsed into one template set
//     (so define/include work across files), files whose name starts with
//     "_" only define, NOTES.txt is printed only with -notes;
//   - the objects .Values .Release .Chart .Capabilities .Template;
//   - functions: sprig's (less env/expandenv), include, tpl, required,
//     toYaml, fromYaml, fromYamlArray, toJson, fromJson, fromJsonArray,
//     lookup (always empty, as in `helm template`);
//   - missing keys print as empty (Helm's default) or fail with -strict.
//
// Output: the rendered documents, each file preceded by "---" and
// "# Source: CHART/templates/FILE" as helm template prints them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"text/template"

	"github.com/Masterminds/semver"
	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v3"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// chartMeta is Chart.yaml; the template sees it as .Chart with Helm's
// capitalised field names.
type chartMeta struct {
	APIVersion  string            `yaml:"apiVersion"`
	Name        string            `yaml:"name"`
	Version     string            `yaml:"version"`
	AppVersion  string            `yaml:"appVersion"`
	KubeVersion string            `yaml:"kubeVersion"`
	Description string            `yaml:"description"`
	Type        string            `yaml:"type"`
	Home        string            `yaml:"home"`
	Sources     []string          `yaml:"sources"`
	Keywords    []string          `yaml:"keywords"`
	Annotations map[string]string `yaml:"annotations"`
}

// apiVersions is .Capabilities.APIVersions; Has is what charts call.
type apiVersions []string

func (a apiVersions) Has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// Versions of the built-in APIs the default capabilities announce (those
// of Kubernetes 1.30 that a chart may ask about).
var defaultAPIVersions = []string{
	"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2",
	"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1",
	"apiregistration.k8s.io/v1", "authentication.k8s.io/v1",
	"authorization.k8s.io/v1", "admissionregistration.k8s.io/v1",
	"apiextensions.k8s.io/v1", "coordination.k8s.io/v1",
	"discovery.k8s.io/v1", "storage.k8s.io/v1", "scheduling.k8s.io/v1",
	"node.k8s.io/v1", "flowcontrol.apiserver.k8s.io/v1beta3",
}

func main() {
	var (
		chartDir    = flag.String("chart", "", "chart directory")
		name        = flag.String("name", "release-name", "release name")
		namespace   = flag.String("namespace", "default", "release namespace")
		kubeVersion = flag.String("kube-version", "1.30.0", "Kubernetes version")
		strict      = flag.Bool("strict", false, "fail on a missing value key")
		notes       = flag.Bool("notes", false, "print NOTES.txt instead")
		schemaOnly  = flag.Bool("schema-only", false, "only merge and validate values")
		upgrade     = flag.Bool("upgrade", false, "render as an upgrade")
		valueFiles  listFlag
		apiVers     listFlag
	)
	flag.Var(&valueFiles, "values", "values file (repeatable, later wins)")
	flag.Var(&apiVers, "api-versions", "extra API version (repeatable)")
	flag.Parse()
	if *chartDir == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	out, err := run(*chartDir, *name, *namespace, *kubeVersion, *strict,
		*notes, *schemaOnly, *upgrade, valueFiles, apiVers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
	os.Stdout.WriteString(out)
}

func run(chartDir, name, namespace, kubeVersion string, strict, notes,
	schemaOnly, upgrade bool, valueFiles, apiVers []string) (string, error) {
	meta, err := loadChart(chartDir)
	if err != nil {
		return "", err
	}
	kv, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return "", fmt.Errorf("-kube-version %q: %v", kubeVersion, err)
	}
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			return "", fmt.Errorf("Chart.yaml kubeVersion: %v", err)
		}
		if !c.Check(kv) {
			return "", fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes v%s",
				meta.KubeVersion, kv.String())
		}
	}

	values, err := loadValues(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return "", err
	}
	for _, f := range valueFiles {
		user, err := loadValues(f)
		if err != nil {
			return "", err
		}
		values = coalesce(user, values)
	}
	if err := validateValues(chartDir, values); err != nil {
		return "", err
	}
	if schemaOnly {
		return "", nil
	}

	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name":      name,
			"Namespace": namespace,
			"Service":   "Helm",
			"IsInstall": !upgrade,
			"IsUpgrade": upgrade,
			"Revision":  1,
		},
		"Chart": map[string]interface{}{
			"Name":        meta.Name,
			"Version":     meta.Version,
			"AppVersion":  meta.AppVersion,
			"KubeVersion": meta.KubeVersion,
			"Description": meta.Description,
			"Type":        meta.Type,
			"Home":        meta.Home,
			"Sources":     meta.Sources,
			"Keywords":    meta.Keywords,
			"Annotations": meta.Annotations,
			"APIVersion":  meta.APIVersion,
		},
		"Capabilities": map[string]interface{}{
			"KubeVersion": map[string]interface{}{
				"Version":    "v" + kv.String(),
				"GitVersion": "v" + kv.String(),
				"Major":      fmt.Sprint(kv.Major()),
				"Minor":      fmt.Sprint(kv.Minor()),
			},
			"APIVersions": apiVersions(append(append([]string{},
				defaultAPIVersions...), apiVers...)),
			"HelmVersion": map[string]interface{}{"Version": "v3.14.0"},
		},
	}
	return renderTemplates(chartDir, meta.Name, top, strict, notes)
}

func loadChart(dir string) (*chartMeta, error) {
	b, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	var m chartMeta
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %v", err)
	}
	if m.APIVersion != "v2" || m.Name == "" || m.Version == "" {
		return nil, errors.New("Chart.yaml: apiVersion v2, name and version are required")
	}
	if _, err := semver.StrictNewVersion(m.Version); err != nil {
		return nil, fmt.Errorf("Chart.yaml: version %q is not SemVer 2: %v", m.Version, err)
	}
	return &m, nil
}

// loadValues reads a YAML file into Helm's value model: maps of string keys,
// slices, strings, bools, float64 numbers and nil (Helm converts YAML to
// JSON before decoding, which is why its numbers are float64).
func loadValues(file string) (map[string]interface{}, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var v interface{}
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	if v == nil {
		return map[string]interface{}{}, nil
	}
	j, err := json.Marshal(jsonable(v))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	var m map[string]interface{}
	if err := json.Unmarshal(j, &m); err != nil {
		return nil, fmt.Errorf("%s: top level must be a map: %v", file, err)
	}
	return m, nil
}

// jsonable turns yaml.v3's map[string]interface{} (or map[interface{}]...)
// into something encoding/json accepts.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		for k, x := range t {
			t[k] = jsonable(x)
		}
		return t
	case map[interface{}]interface{}:
		m := map[string]interface{}{}
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []interface{}:
		for i, x := range t {
			t[i] = jsonable(x)
		}
		return t
	}
	return v
}

// coalesce merges user values over defaults as Helm does: a map merges
// key by key, any other value replaces, and a user null removes the key.
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		um, uok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(um, dm)
		} else {
			out[k] = v
		}
	}
	return out
}

func renderTemplates(chartDir, chartName string, top map[string]interface{},
	strict, notes bool) (string, error) {
	tdir := filepath.Join(chartDir, "templates")
	var files []string
	err := filepath.Walk(tdir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !info.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)

	root := template.New("chart")
	if strict {
		root.Option("missingkey=error")
	} else {
		root.Option("missingkey=zero")
	}
	root.Funcs(funcMap(root))
	var names []string
	for _, f := range files {
		rel, _ := filepath.Rel(chartDir, f)
		tname := path.Join(chartName, filepath.ToSlash(rel))
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if _, err := root.New(tname).Parse(string(b)); err != nil {
			return "", err
		}
		names = append(names, tname)
	}

	var out strings.Builder
	for _, tname := range names {
		base := path.Base(tname)
		isNotes := base == "NOTES.txt"
		if strings.HasPrefix(base, "_") || isNotes != notes {
			continue
		}
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{
			"Name":     tname,
			"BasePath": path.Join(chartName, "templates"),
		}
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, tname, vals); err != nil {
			return "", err
		}
		// Helm prints a missing value as empty, not "<no value>".
		s := strings.ReplaceAll(buf.String(), "<no value>", "")
		if isNotes {
			out.WriteString(s)
			continue
		}
		if strings.TrimSpace(s) == "" {
			continue
		}
		fmt.Fprintf(&out, "---\n# Source: %s\n%s\n", tname, strings.TrimRight(s, "\n"))
	}
	return out.String(), nil
}

// funcMap is sprig's text functions plus the ones Helm adds.
func funcMap(root *template.Template) template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	includeDepth := 0
	f["include"] = func(name string, data interface{}) (string, error) {
		if includeDepth > 1000 {
			return "", fmt.Errorf("include %q: recursion too deep", name)
		}
		includeDepth++
		defer func() { includeDepth-- }()
		var buf bytes.Buffer
		if err := root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", fmt.Errorf("tpl: %v", err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return nil, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return nil, errors.New(msg)
		}
		return v, nil
	}
	f["toYaml"] = func(v interface{}) string {
		s, err := toYAML(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(s, "\n")
	}
	f["fromYaml"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		var v interface{}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			m["Error"] = err.Error()
			return m
		}
		if mm, ok := jsonable(v).(map[string]interface{}); ok {
			return mm
		}
		return m
	}
	f["fromYamlArray"] = func(s string) []interface{} {
		var v []interface{}
		if err := yaml.Unmarshal([]byte(s), &v); err != nil {
			return []interface{}{err.Error()}
		}
		return jsonable(v).([]interface{})
	}
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["fromJsonArray"] = func(s string) []interface{} {
		var a []interface{}
		if err := json.Unmarshal([]byte(s), &a); err != nil {
			return []interface{}{err.Error()}
		}
		return a
	}
	f["lookup"] = func(string, string, string, string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	return f
}

// toYAML marshals like Helm's toYaml (sigs.k8s.io/yaml: through JSON, keys
// sorted, two-space indent, integral numbers without an exponent).
func toYAML(v interface{}) (string, error) {
	n, err := toNode(v)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return "", err
	}
	enc.Close()
	return buf.String(), nil
}

func toNode(v interface{}) (*yaml.Node, error) {
	// Normalise through JSON first, as sigs.k8s.io/yaml does.
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var x interface{}
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	return node(x), nil
}

func node(v interface{}) *yaml.Node {
	switch t := v.(type) {
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: fmt.Sprint(t)}
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(t), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(t)}
	case string:
		n := &yaml.Node{}
		n.SetString(t)
		return n
	case []interface{}:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, x := range t {
			n.Content = append(n.Content, node(x))
		}
		return n
	case map[string]interface{}:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kn := &yaml.Node{}
			kn.SetString(k)
			n.Content = append(n.Content, kn, node(t[k]))
		}
		return n
	}
	n := &yaml.Node{}
	n.SetString(fmt.Sprint(v))
	return n
}
