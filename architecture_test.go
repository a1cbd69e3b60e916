package goodturn_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// module is the module path of goodturn's packages.
const module = "github.com/goodturn/goodturn/"

// TestImportsFollowArchitecture checks the import rules ARCHITECTURE.md
// states against the code: every package that ships is listed, and it
// imports no goodturn package its row does not allow.
func TestImportsFollowArchitecture(t *testing.T) {
	doc, err := os.ReadFile("ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	allowed := importRules(t, string(doc))
	imports := shippedImports(t)
	if len(imports) < 10 {
		t.Fatalf("found only %d packages: the walk is broken", len(imports))
	}
	var pkgs []string
	for p := range imports {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		may, listed := allowed[pkg]
		if !listed {
			t.Errorf("package %s is not in ARCHITECTURE.md's import rules", pkg)
			continue
		}
		if may == nil {
			continue // any
		}
		for _, imp := range imports[pkg] {
			if !may[imp] {
				t.Errorf("%s imports %s, which ARCHITECTURE.md does not allow", pkg, imp)
			}
		}
	}
	for pkg := range allowed {
		if _, ok := imports[pkg]; !ok {
			t.Errorf("ARCHITECTURE.md lists %s, which is not a package", pkg)
		}
	}
}

// importRules reads the import rules table: package → allowed imports, nil
// for "any".
func importRules(t *testing.T, doc string) map[string]map[string]bool {
	t.Helper()
	_, table, ok := strings.Cut(doc, "| package | may import |")
	if !ok {
		t.Fatal("ARCHITECTURE.md has no import rules table")
	}
	row := regexp.MustCompile("^\\| `([a-z/]+)` \\| (.*) \\|$")
	name := regexp.MustCompile("`([a-z/]+)`")
	rules := map[string]map[string]bool{}
	for _, line := range strings.Split(table, "\n")[2:] {
		if !strings.HasPrefix(line, "|") {
			break
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("cannot read import rule %q", line)
		}
		if strings.TrimSpace(m[2]) == "any" {
			rules[m[1]] = nil
			continue
		}
		may := map[string]bool{}
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			may[n[1]] = true
		}
		rules[m[1]] = may
	}
	return rules
}

// shippedImports returns, for each package of the module, the goodturn
// packages its non-test files import, by path relative to the module.
func shippedImports(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if base := d.Name(); path != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "docs") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		seen := map[string]bool{}
		for _, imp := range out[pkg] {
			seen[imp] = true
		}
		if _, ok := out[pkg]; !ok {
			out[pkg] = nil
		}
		for _, spec := range f.Imports {
			p, _ := strconv.Unquote(spec.Path.Value)
			if rel, ok := strings.CutPrefix(p, module); ok && !seen[rel] {
				seen[rel] = true
				out[pkg] = append(out[pkg], rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
