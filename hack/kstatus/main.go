// Command kstatus prints the verdict of kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status,
// the library behind Flux's health checks and `kubectl wait --for=jsonpath` tooling) for
// Kubernetes objects. It reads a stream of JSON objects on stdin and writes one JSON line
// per object: {"kind", "name", "status", "message"}. Kompost's tests use it to check the
// status the operator writes against the real library instead of a re-implementation.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// verdict is what kstatus says about one object.
type verdict struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	decoder := json.NewDecoder(in)
	encoder := json.NewEncoder(out)
	for {
		var raw json.RawMessage
		if err := decoder.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("while reading an object from stdin: %w", err)
		}
		// Unstructured's own decoder keeps integers as int64, as the API machinery does.
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("while decoding an object (it needs apiVersion and kind): %w", err)
		}
		result, err := status.Compute(u)
		if err != nil {
			return fmt.Errorf("while computing the status of %s %q: %w", u.GetKind(), u.GetName(), err)
		}
		err = encoder.Encode(verdict{Kind: u.GetKind(), Name: u.GetName(), Status: result.Status.String(), Message: result.Message})
		if err != nil {
			return fmt.Errorf("while writing the verdict: %w", err)
		}
	}
}
