// Command kubectl is the upstream kubectl, built from k8s.io/kubectl at the
// same minor version as the k8s.io/api that wake serves. The end-to-end tests
// drive wake with it, so that what they prove is what a user sees.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		os.Exit(1)
	}
}
