package main

import (
	"context"
	"fmt"
	"strings"
)

// runCompletion prints a completion script for a shell: the commands of
// goodturn, the subcommands of each family, and for each the flags its -h
// lists.
func runCompletion(ctx context.Context, x *call) error {
	args, err := x.Parse()
	if err != nil {
		return err
	}
	w := x.Stdout
	names := make([]string, len(commands))
	var families []string // "review) subs='list show …';;"
	for i, c := range commands {
		names[i] = c.name
		if len(c.subs) > 0 {
			families = append(families, fmt.Sprintf("%s) subs=%q;;", c.name, strings.Join(subNames(c), " ")))
		}
	}
	switch args[0] {
	case "bash":
		fmt.Fprintf(w, `# goodturn completion for bash: source <(goodturn completion bash)
_goodturn() {
  local cur=${COMP_WORDS[COMP_CWORD]} subs=
  case ${COMP_WORDS[1]} in %s esac
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W %q -- "$cur"))
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ] && [[ $cur != -* ]]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  elif [[ $cur == -* ]]; then
    local cmd=${COMP_WORDS[1]}
    [ -n "$subs" ] && cmd="$cmd ${COMP_WORDS[2]}"
    COMPREPLY=($(compgen -W "$(goodturn $cmd -h 2>&1 | grep -o -- '^ *-[a-z-]*' | sed 's/^ *-/--/')" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _goodturn goodturn
`, strings.Join(families, " "), strings.Join(names, " "))
	case "zsh":
		fmt.Fprintf(w, `#compdef goodturn
# goodturn completion for zsh: source <(goodturn completion zsh)
_goodturn() {
  local subs=
  case ${words[2]} in %s esac
  if (( CURRENT == 2 )); then
    compadd -- %s
  elif (( CURRENT == 3 )) && [[ -n $subs ]]; then
    compadd -- ${=subs}
  else
    _files
  fi
}
compdef _goodturn goodturn
`, strings.Join(families, " "), strings.Join(names, " "))
	case "fish":
		fmt.Fprintln(w, "# goodturn completion for fish: goodturn completion fish | source")
		for _, c := range commands {
			fmt.Fprintf(w, "complete -c goodturn -n __fish_use_subcommand -a %s -d %q\n", c.name, c.summary)
			for _, s := range c.subs {
				fmt.Fprintf(w, "complete -c goodturn -n '__fish_seen_subcommand_from %s' -a %s -d %q\n", c.name, s.name, s.summary)
			}
		}
	default:
		return fmt.Errorf("%w: unknown shell %q: want bash, zsh or fish", errUsage, args[0])
	}
	return nil
}

// subNames returns the names of a family's subcommands.
func subNames(c *command) []string {
	names := make([]string, len(c.subs))
	for i, s := range c.subs {
		names[i] = s.name
	}
	return names
}
