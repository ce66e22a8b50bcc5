// Command k8sschemas turns Kubernetes' own OpenAPI document and CustomResourceDefinitions
// into the JSON schemas kubeconform reads, one self-contained file per kind and version,
// named the way kubeconform's {{ .ResourceKind }}{{ .KindSuffix }} template expects:
// deployment-apps-v1.json, service-v1.json, scaledobject-keda-v1alpha1.json, ...
//
// The schemas are strict, like kubeconform's published "-strict" set and the API server's
// strict field validation: an object that declares its properties rejects any other
// property (a misspelt field), unless the schema says x-kubernetes-preserve-unknown-fields.
// int-or-string and resource.Quantity accept what the API server accepts (3 or "3").
//
// Usage: k8sschemas -swagger api/openapi-spec/swagger.json -out DIR [crd.yaml ...]
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

type object = map[string]any

const (
	refPrefix   = "#/definitions/"
	objectMeta  = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
	intOrString = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
	quantity    = "io.k8s.apimachinery.pkg.api.resource.Quantity"
	draft07     = "http://json-schema.org/draft-07/schema#"
)

func main() {
	swagger := flag.String("swagger", "", "Kubernetes OpenAPI v2 document (api/openapi-spec/swagger.json)")
	out := flag.String("out", "", "directory to write the schemas into")
	flag.Parse()
	if *swagger == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: k8sschemas -swagger FILE -out DIR [CRD_FILE...]")
		os.Exit(2)
	}
	if err := run(*swagger, *out, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "k8sschemas: %v\n", err)
		os.Exit(1)
	}
}

func run(swaggerPath, out string, crdPaths []string) error {
	definitions, err := loadDefinitions(swaggerPath)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	written := 0
	names := make([]string, 0, len(definitions))
	for name := range definitions {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		def := definitions[name].(object)
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, raw := range gvks {
			gvk := raw.(object)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			kind, _ := gvk["kind"].(string)
			schema := deepCopy(def).(object)
			schema["definitions"] = closure(definitions, schema)
			if err := writeSchema(out, schema, group, version, kind); err != nil {
				return err
			}
			written++
		}
	}
	for _, path := range crdPaths {
		n, err := convertCRDs(path, out, definitions)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		written += n
	}
	fmt.Printf("k8sschemas: wrote %d schemas to %s\n", written, out)
	return nil
}

// loadDefinitions reads swagger.json's definitions and makes each one strict.
func loadDefinitions(path string) (object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var document struct {
		Definitions object `json:"definitions"`
	}
	if err := json.Unmarshal(data, &document); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(document.Definitions) == 0 {
		return nil, fmt.Errorf("%s has no definitions", path)
	}
	for name, def := range document.Definitions {
		switch name {
		case intOrString:
			document.Definitions[name] = object{"oneOf": []any{object{"type": "string"}, object{"type": "integer"}}}
		case quantity:
			document.Definitions[name] = object{"oneOf": []any{object{"type": "string"}, object{"type": "number"}}}
		default:
			strictify(def)
		}
	}
	return document.Definitions, nil
}

// strictify walks a schema by its keywords (never into a properties map as if it were a
// schema: JSONSchemaProps has a property called "properties") and closes every object.
func strictify(node any) {
	schema, ok := node.(object)
	if !ok {
		return
	}
	if format, _ := schema["format"].(string); format == "int-or-string" || schema["x-kubernetes-int-or-string"] == true {
		if _, has := schema["anyOf"]; !has {
			delete(schema, "type")
			delete(schema, "format")
			schema["oneOf"] = []any{object{"type": "string"}, object{"type": "integer"}}
		}
	}
	if schema["nullable"] == true {
		if typ, ok := schema["type"].(string); ok {
			schema["type"] = []any{typ, "null"}
		}
	}
	if properties, ok := schema["properties"].(object); ok {
		_, open := schema["additionalProperties"]
		if !open && schema["x-kubernetes-preserve-unknown-fields"] != true {
			schema["additionalProperties"] = false
		}
		for _, property := range properties {
			strictify(property)
		}
	}
	for _, keyword := range []string{"items", "additionalProperties", "not"} {
		switch value := schema[keyword].(type) {
		case object:
			strictify(value)
		case []any:
			for _, item := range value {
				strictify(item)
			}
		}
	}
	for _, keyword := range []string{"allOf", "anyOf", "oneOf"} {
		if list, ok := schema[keyword].([]any); ok {
			for _, item := range list {
				strictify(item)
			}
		}
	}
	if patterns, ok := schema["patternProperties"].(object); ok {
		for _, item := range patterns {
			strictify(item)
		}
	}
}

// closure returns every definition the schema reaches through $ref, transitively.
func closure(definitions object, schema any) object {
	found := object{}
	var visit func(node any)
	visit = func(node any) {
		switch value := node.(type) {
		case object:
			for key, item := range value {
				if ref, ok := item.(string); ok && key == "$ref" && strings.HasPrefix(ref, refPrefix) {
					name := strings.TrimPrefix(ref, refPrefix)
					if _, seen := found[name]; !seen {
						target, ok := definitions[name]
						if !ok {
							continue
						}
						found[name] = target
						visit(target)
					}
					continue
				}
				visit(item)
			}
		case []any:
			for _, item := range value {
				visit(item)
			}
		}
	}
	visit(schema)
	return found
}

// convertCRDs writes a schema for every served version of every CRD in a YAML stream.
func convertCRDs(path, out string, definitions object) (int, error) {
	file, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	decoder := yaml.NewDecoder(file)
	written := 0
	for {
		var document object
		if err := decoder.Decode(&document); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return written, err
		}
		if document["kind"] != "CustomResourceDefinition" {
			continue
		}
		spec, _ := document["spec"].(object)
		group, _ := spec["group"].(string)
		names, _ := spec["names"].(object)
		kind, _ := names["kind"].(string)
		versions, _ := spec["versions"].([]any)
		for _, raw := range versions {
			version, _ := raw.(object)
			name, _ := version["name"].(string)
			holder, _ := version["schema"].(object)
			schema, ok := holder["openAPIV3Schema"].(object)
			if !ok {
				continue
			}
			schema = deepCopy(schema).(object)
			strictify(schema)
			// A CRD's schema says only "metadata: object"; the API server applies ObjectMeta.
			if properties, ok := schema["properties"].(object); ok {
				properties["metadata"] = object{"$ref": refPrefix + objectMeta}
			}
			schema["definitions"] = closure(definitions, schema)
			if err := writeSchema(out, schema, group, name, kind); err != nil {
				return written, err
			}
			written++
		}
	}
	if written == 0 {
		return 0, errors.New("no CustomResourceDefinition with an openAPIV3Schema found")
	}
	return written, nil
}

// writeSchema pins apiVersion and kind and writes the file kubeconform will look for.
func writeSchema(out string, schema object, group, version, kind string) error {
	apiVersion := version
	suffix := "-" + strings.ToLower(version)
	if group != "" {
		apiVersion = group + "/" + version
		suffix = "-" + strings.ToLower(strings.Split(group, ".")[0]) + suffix
	}
	if properties, ok := schema["properties"].(object); ok {
		properties["apiVersion"] = object{"type": "string", "enum": []any{apiVersion}}
		properties["kind"] = object{"type": "string", "enum": []any{kind}}
	}
	schema["$schema"] = draft07
	data, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, strings.ToLower(kind)+suffix+".json"), data, 0o644)
}

func deepCopy(node any) any {
	switch value := node.(type) {
	case object:
		copied := make(object, len(value))
		for key, item := range value {
			copied[key] = deepCopy(item)
		}
		return copied
	case []any:
		copied := make([]any, len(value))
		for i, item := range value {
			copied[i] = deepCopy(item)
		}
		return copied
	default:
		return value
	}
}
