package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// reportPanic turns a panic of a command into a report that cannot carry a
// secret: the panic's text only when it is the runtime's own (a nil
// dereference, an index out of range: no data of the user's), otherwise only
// its type; then the stack, which names functions and addresses, never the
// contents of strings. It returns the exit code.
func reportPanic(w io.Writer, v any) int {
	what := fmt.Sprintf("a value of type %T", v)
	if re, ok := v.(runtime.Error); ok {
		what = re.Error()
	}
	fmt.Fprintf(w, "herald: internal error (%s); please report it with the stack below:\n%s", what, debug.Stack())
	return ExitFailure
}
