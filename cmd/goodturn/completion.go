package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
)

// runCompletion prints a completion script for a shell: the commands of
// goodturn, and for each the flags its -h lists.
func runCompletion(ctx context.Context, env *Env, args []string) error {
	if len(args) == 1 && asksHelp(args) {
		fmt.Fprintln(env.Stderr, "Usage: goodturn completion bash|zsh|fish\n\nPrints a completion script for the shell; takes no flags.")
		return flag.ErrHelp
	}
	if len(args) != 1 {
		return fmt.Errorf("%w: want one shell: bash, zsh or fish", errUsage)
	}
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	switch args[0] {
	case "bash":
		fmt.Fprintf(env.Stdout, `# goodturn completion for bash: source <(goodturn completion bash)
_goodturn() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=($(compgen -W %q -- "$cur"))
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(goodturn "${COMP_WORDS[1]}" -h 2>&1 | grep -o -- '^ *-[a-z-]*' | sed 's/^ *-/--/')" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -F _goodturn goodturn
`, strings.Join(names, " "))
	case "zsh":
		fmt.Fprintf(env.Stdout, `#compdef goodturn
# goodturn completion for zsh: source <(goodturn completion zsh)
_goodturn() {
  if (( CURRENT == 2 )); then
    compadd -- %s
  else
    _files
  fi
}
compdef _goodturn goodturn
`, strings.Join(names, " "))
	case "fish":
		fmt.Fprintln(env.Stdout, "# goodturn completion for fish: goodturn completion fish | source")
		for _, c := range commands {
			fmt.Fprintf(env.Stdout, "complete -c goodturn -n __fish_use_subcommand -a %s -d %q\n", c.name, c.usage)
		}
	default:
		return fmt.Errorf("%w: unknown shell %q: want bash, zsh or fish", errUsage, args[0])
	}
	return nil
}
