package rules

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/goodturn/goodturn/rules/rulefmt"
)

// source is where rule files are read from: the operating system's files,
// named by their own paths (relative or absolute, as the user gave them), or
// an fs.FS such as the rulesets embedded in the binary.
type source struct {
	fsys fs.FS
	join func(elem ...string) string
}

// osFiles reads the operating system's files by their own paths, so that
// errors name the paths the user gave.
type osFiles struct{}

func (osFiles) Open(name string) (fs.File, error)          { return os.Open(name) }
func (osFiles) ReadFile(name string) ([]byte, error)       { return os.ReadFile(name) }
func (osFiles) ReadDir(name string) ([]fs.DirEntry, error) { return os.ReadDir(name) }
func (osFiles) Stat(name string) (fs.FileInfo, error)      { return os.Stat(name) }

var osSource = source{fsys: osFiles{}, join: filepath.Join}

func fsSource(fsys fs.FS) source { return source{fsys: fsys, join: path.Join} }

// LoadAll loads every ruleset folder under root (each subfolder holding
// at least one rule file), collecting the errors of all of them. It returns
// the rulesets that loaded even when others did not, so that one team's
// broken ruleset need not stop another's run.
func LoadAll(root string) ([]*Ruleset, error) { return osSource.loadAll(root) }

// LoadAllFS is LoadAll reading from fsys, where root is a slash-separated
// path such as ".".
func LoadAllFS(fsys fs.FS, root string) ([]*Ruleset, error) { return fsSource(fsys).loadAll(root) }

// Load reads and compiles the ruleset in dir. Any problem in any file is
// returned, all of them at once, as rulefmt.Errors; a ruleset with errors is
// never returned.
func Load(dir string) (*Ruleset, error) { return osSource.load(dir) }

// LoadFS is Load reading from fsys, where dir is a slash-separated path
// such as "mobile". The rules' templates are read from fsys too (see
// Rule.ReadTemplate).
func LoadFS(fsys fs.FS, dir string) (*Ruleset, error) { return fsSource(fsys).load(dir) }

func (src source) loadAll(root string) ([]*Ruleset, error) {
	entries, err := fs.ReadDir(src.fsys, root)
	if err != nil {
		return nil, fmt.Errorf("load rulesets: %w", err)
	}
	var sets []*Ruleset
	var errs rulefmt.Errors
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := src.join(root, e.Name())
		files, _ := src.ruleFiles(dir)
		if len(files) == 0 {
			continue
		}
		rs, err := src.load(dir)
		if err != nil {
			var es rulefmt.Errors
			if errors.As(err, &es) {
				errs = append(errs, es...)
				continue
			}
			return nil, err
		}
		sets = append(sets, rs)
	}
	if len(errs) > 0 {
		return sets, errs
	}
	if len(sets) == 0 {
		return nil, fmt.Errorf("load rulesets: no ruleset folders with rule files in %s", root)
	}
	return sets, nil
}

// ruleFiles returns the rule files of dir, sorted; test files are not rule
// files.
func (src source) ruleFiles(dir string) ([]string, error) {
	entries, err := fs.ReadDir(src.fsys, dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !(strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) ||
			strings.HasSuffix(n, TestFileSuffix) || strings.HasSuffix(n, "_test.yml") {
			continue
		}
		files = append(files, src.join(dir, n))
	}
	sort.Strings(files)
	return files, nil
}

func (src source) load(dir string) (*Ruleset, error) {
	files, err := src.ruleFiles(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load ruleset: %s does not exist", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("load ruleset %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load ruleset: no rule files (*.yaml) in %s", dir)
	}
	srcs := make(map[string][]byte, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(src.fsys, f)
		if err != nil {
			return nil, fmt.Errorf("load ruleset: %w", err)
		}
		srcs[f] = b
	}
	name := path.Base(filepath.ToSlash(filepath.Clean(dir)))
	rs, err := Compile(name, dir, srcs, func(name string) bool {
		_, err := fs.Stat(src.fsys, src.join(dir, name+TemplateExt))
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if src.fsys != (osFiles{}) {
		rs.FS = src.fsys
		for _, r := range rs.Rules {
			r.fsys = src.fsys
			if r.TemplatePath != "" {
				r.TemplatePath = path.Join(dir, r.Message.Template+TemplateExt)
			}
		}
	}
	src.findTranslations(rs, dir)
	return rs, nil
}

// findTranslations finds each rule's templates in other languages: files
// named after its template with a language code, cheaper-plan.cy.tmpl.
func (src source) findTranslations(rs *Ruleset, dir string) {
	entries, err := fs.ReadDir(src.fsys, dir)
	if err != nil {
		return
	}
	for _, r := range rs.Rules {
		if r.Message.Template == "" {
			continue
		}
		prefix := r.Message.Template + "."
		for _, e := range entries {
			lang, ok := strings.CutPrefix(e.Name(), prefix)
			if !ok || e.IsDir() {
				continue
			}
			lang, ok = strings.CutSuffix(lang, TemplateExt)
			if !ok || lang == r.Language || !langCode.MatchString(lang) {
				continue
			}
			if r.Translations == nil {
				r.Translations = map[string]string{}
			}
			r.Translations[lang] = src.join(dir, e.Name())
		}
	}
}

// ReadTemplate reads the rule's message template from where the rule was
// loaded: a file, or the fs.FS given to LoadFS.
func (r *Rule) ReadTemplate() ([]byte, error) { return r.ReadTemplateFile(r.TemplatePath) }

// ReadTemplateFile reads one of the rule's template files (TemplatePath or
// a translation) from where the rule was loaded.
func (r *Rule) ReadTemplateFile(name string) ([]byte, error) {
	if r.fsys != nil {
		return fs.ReadFile(r.fsys, name)
	}
	return os.ReadFile(name)
}
