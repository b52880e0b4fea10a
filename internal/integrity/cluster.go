package integrity

import (
	"fmt"
	"io"
)

// StatusUnreachable is a pod of a cluster that did not answer: its files
// were not checked.
const StatusUnreachable = "unreachable"

// PodReport is one pod's verdict in a cluster's: its report, or why it
// did not answer.
type PodReport struct {
	// Host is the pod's host (the peer's URL when it did not say).
	Host string `json:"host"`
	// Error says why the pod did not answer; Report is nil then.
	Error  string  `json:"error,omitempty"`
	Report *Report `json:"report,omitempty"`
}

// ClusterReport is the verdict on every pod of a cluster
// (docs/integrity.md "Verify"): verify --server on a pod with peers.
type ClusterReport struct {
	// Intact is false when a pod that answered shows tampering.
	Intact bool `json:"intact"`
	// Partial is true when a pod did not answer: its files are not
	// vouched for.
	Partial bool        `json:"partial"`
	Pods    []PodReport `json:"pods"`
}

// Judge sets Intact and Partial from the pods.
func (c *ClusterReport) Judge() {
	c.Intact, c.Partial = true, false
	for _, p := range c.Pods {
		switch {
		case p.Report == nil:
			c.Partial = true
		case !p.Report.Intact:
			c.Intact = false
		}
	}
}

// WriteTable writes one line per {host}/{file}, and one per pod that did
// not answer, then the verdict.
func (c ClusterReport) WriteTable(w io.Writer) {
	width := 4
	for _, p := range c.Pods {
		width = max(width, len(p.Host)+1)
		if p.Report != nil {
			for _, f := range p.Report.Files {
				width = max(width, len(p.Host)+1+len(f.Name))
			}
		}
	}
	unanswered := 0
	for _, p := range c.Pods {
		if p.Report == nil {
			unanswered++
			fmt.Fprintf(w, "%-*s  %-13s  %s\n", width, p.Host+"/", StatusUnreachable, p.Error)
			continue
		}
		p.Report.writeRows(w, width, p.Host+"/")
	}
	switch {
	case !c.Intact:
		fmt.Fprintln(w, "TAMPERED")
	case c.Partial:
		fmt.Fprintf(w, "partial: %d of %d pods did not answer; the others are intact\n", unanswered, len(c.Pods))
	default:
		fmt.Fprintf(w, "intact: %d pods\n", len(c.Pods))
	}
}
