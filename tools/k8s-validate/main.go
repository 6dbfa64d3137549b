// Command k8s-validate decodes rendered Kubernetes manifests strictly into the official API types
// of a pinned version (k8s.io/api, Gateway API, Prometheus Operator) so that a misspelled field, a
// duplicated key or a value of the wrong type fails offline, the way the API server would refuse
// it, without a cluster.
//
//	k8s-validate [--json] [FILE ...]   (no FILE or "-": standard input)
//
// Exit 0: every document decoded. Exit 1: one line per problem on stderr, naming the document.
// With --json the accepted documents are printed as a JSON array (the policy tests read it).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	sigsyaml "sigs.k8s.io/yaml"
)

// document is one YAML document of a stream, with where it came from for messages.
type document struct {
	index  int
	source string // Helm's "# Source:" comment, or the file name
	yaml   []byte
}

// Accepted is what --json prints per document: the manifest as JSON, as the user wrote it.
type Accepted struct {
	Source   string          `json:"source"`
	Manifest json.RawMessage `json:"manifest"`
}

func main() {
	asJSON := false
	var files []string
	for _, arg := range os.Args[1:] {
		switch arg {
		case "--json":
			asJSON = true
		case "-h", "--help":
			fmt.Println("usage: k8s-validate [--json] [FILE ...]")
			return
		default:
			files = append(files, arg)
		}
	}
	if len(files) == 0 {
		files = []string{"-"}
	}

	var accepted []Accepted
	problems := 0
	for _, name := range files {
		docs, err := readDocuments(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			problems++
			continue
		}
		for _, doc := range docs {
			manifest, errs := validateDocument(doc)
			for _, e := range errs {
				fmt.Fprintf(os.Stderr, "%s (document %d): %v\n", doc.source, doc.index, e)
			}
			problems += len(errs)
			if len(errs) == 0 && manifest != nil {
				accepted = append(accepted, Accepted{Source: doc.source, Manifest: manifest})
			}
		}
	}
	if problems > 0 {
		fmt.Fprintf(os.Stderr, "k8s-validate: %d problem(s)\n", problems)
		os.Exit(1)
	}
	if asJSON {
		if accepted == nil {
			accepted = []Accepted{}
		}
		out, _ := json.Marshal(accepted)
		os.Stdout.Write(append(out, '\n'))
	}
}

func readDocuments(name string) ([]document, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(r))
	var docs []document
	for i := 1; ; i++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, document{index: i, source: sourceOf(raw, name), yaml: raw})
	}
}

// sourceOf returns the template path Helm writes as "# Source: chart/templates/x.yaml".
func sourceOf(raw []byte, fallback string) string {
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "# Source: "); ok {
			return rest
		}
	}
	return fallback
}

// validateDocument returns the document as JSON, or every problem found. Empty documents (only
// comments, as Helm leaves for disabled templates) yield neither.
func validateDocument(doc document) (json.RawMessage, []error) {
	// YAMLToJSONStrict refuses duplicate keys, which plain YAML parsers resolve silently.
	asJSON, err := sigsyaml.YAMLToJSONStrict(doc.yaml)
	if err != nil {
		return nil, []error{fmt.Errorf("not valid YAML: %w", err)}
	}
	if bytes.Equal(bytes.TrimSpace(asJSON), []byte("null")) {
		return nil, nil
	}

	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(asJSON, &head); err != nil {
		return nil, []error{fmt.Errorf("not a Kubernetes object: %w", err)}
	}
	newObject, known := knownKinds[head.APIVersion+"/"+head.Kind]
	if !known {
		return nil, []error{fmt.Errorf("%s %q is not a kind this validator knows (add it to kinds.go)", head.APIVersion, head.Kind)}
	}

	obj := newObject()
	// The API server's own decoding rules: case-sensitive field names, unknown and duplicate
	// fields reported, integers kept as integers.
	strictErrs, err := sigsjson.UnmarshalStrict(asJSON, obj, sigsjson.DisallowDuplicateFields, sigsjson.DisallowUnknownFields)
	label := fmt.Sprintf("%s %s", head.Kind, nameOf(asJSON))
	var errs []error
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", label, err))
	}
	for _, e := range strictErrs {
		errs = append(errs, fmt.Errorf("%s: %w", label, e))
	}
	if len(errs) == 0 {
		for _, e := range namingProblems(obj) {
			errs = append(errs, fmt.Errorf("%s: %s", label, e))
		}
	}
	return asJSON, errs
}

func nameOf(asJSON []byte) string {
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(asJSON, &m)
	if m.Metadata.Name == "" {
		return "(unnamed)"
	}
	return m.Metadata.Name
}

// checkName reports a name the API server would refuse (DNS subdomain or label rules).
func checkName(what, name string, rule func(string) []string) []string {
	var out []string
	for _, msg := range rule(name) {
		out = append(out, fmt.Sprintf("%s %q: %s", what, name, msg))
	}
	return out
}

func checkLabels(what string, labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		for _, msg := range validation.IsQualifiedName(k) {
			out = append(out, fmt.Sprintf("%s key %q: %s", what, k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			out = append(out, fmt.Sprintf("%s %q value %q: %s", what, k, v, msg))
		}
	}
	return out
}
