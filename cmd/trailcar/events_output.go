package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"go.yaml.in/yaml/v3"

	"github.com/trailcar/trailcar/internal/event"
)

// printer writes events in one output format.
type printer interface {
	print(line []byte) error
	// flush writes what is buffered; called at the end and, when
	// following, after each event.
	flush() error
}

// tableFlushRows bounds the rows a table buffers to align its columns, so
// that listing everything stays in bounded memory; each block of rows is
// aligned on its own.
const tableFlushRows = 1000

// tableOptions are how a table looks: --full (or -o wide) adds columns,
// --no-headers drops the header and the "No events" of an empty table.
type tableOptions struct {
	full, noHeaders bool
}

// newPrinter returns the printer for format: table, wide (the table with
// --full's columns, as kubectl's -o wide), json (JSON Lines: one event per
// line, as stored), or yaml (a sequence of events, fields in their stored
// order).
func newPrinter(format string, to tableOptions, w io.Writer) (printer, error) {
	switch format {
	case "table", "wide":
		to.full = to.full || format == "wide"
		return &tablePrinter{tw: tabwriter.NewWriter(w, 0, 8, 2, ' ', 0), tableOptions: to}, nil
	case "json":
		return &jsonPrinter{w: w}, nil
	case "yaml":
		return &yamlPrinter{w: w}, nil
	}
	return nil, usagef("-o %q: want table, wide, json or yaml", format)
}

// tablePrinter writes Timestamp Level Service Host Event ID (anchore's
// columns), and with full User Method Path Status Address.
type tablePrinter struct {
	tw *tabwriter.Writer
	tableOptions
	rows   int
	header bool
}

func (p *tablePrinter) writeHeader() {
	if !p.header && !p.noHeaders {
		p.header = true
		fmt.Fprintln(p.tw, strings.Join(tableColumns(p.full), "\t"))
	}
}

// tableColumns are the table's column names.
func tableColumns(full bool) []string {
	cols := []string{"Timestamp", "Level", "Service", "Host", "Event", "ID"}
	if full {
		cols = append(cols, "User", "Method", "Path", "Status", "Address")
	}
	return cols
}

// tableRow is one event's cells.
func tableRow(e *event.Event, full bool) []string {
	row := []string{event.FormatTime(e.Time), e.Level, dash(e.Service), dash(e.Host), dash(eventColumn(e)), e.ID}
	if full {
		user := e.Creds.Name
		if user == "" || user == event.Unknown {
			user = e.Creds.UUID
		}
		status := ""
		if e.Res.StatusCode != 0 {
			status = strconv.Itoa(e.Res.StatusCode)
		}
		row = append(row, dash(user), dash(e.Req.Method), dash(e.Req.Path), dash(status), dash(e.Address))
	}
	return row
}

// eventColumn is what the Event column says: the action when the event
// has one, else its type; a notification says its message.
func eventColumn(e *event.Event) string {
	switch {
	case e.Type == event.TypeNotification && e.Message != "":
		return e.Message
	case e.Action != "":
		return e.Action
	}
	return e.Type
}

func (p *tablePrinter) print(line []byte) error {
	p.writeHeader()
	var e event.Event
	if err := event.Decode(line, &e); err != nil {
		return err
	}
	fmt.Fprintln(p.tw, strings.Join(tableRow(&e, p.full), "\t"))
	if p.rows++; p.rows%tableFlushRows == 0 {
		return p.tw.Flush()
	}
	return nil
}

// flush writes the rows; with none at all, the header and "No events"
// (neither with --no-headers).
func (p *tablePrinter) flush() error {
	if p.rows == 0 && !p.noHeaders {
		p.writeHeader()
		fmt.Fprintln(p.tw, "No events")
	}
	return p.tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// jsonPrinter writes JSON Lines.
type jsonPrinter struct{ w io.Writer }

func (p *jsonPrinter) print(line []byte) error {
	if _, err := p.w.Write(line); err != nil {
		return err
	}
	_, err := p.w.Write([]byte{'\n'})
	return err
}

func (p *jsonPrinter) flush() error { return nil }

// yamlPrinter writes each event as an item of one YAML sequence.
type yamlPrinter struct{ w io.Writer }

func (p *yamlPrinter) print(line []byte) error {
	n, err := jsonToYAML(line)
	if err != nil {
		return err
	}
	return writeYAML(p.w, &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{n}})
}

func (p *yamlPrinter) flush() error { return nil }

func writeYAML(w io.Writer, n *yaml.Node) error {
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return err
	}
	return enc.Close()
}

// jsonToYAML converts one JSON value to a YAML node, keeping the order
// of object keys (a map would sort them).
func jsonToYAML(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	n, err := yamlValue(dec)
	if err != nil {
		return nil, fmt.Errorf("convert event to YAML: %w", err)
	}
	return n, nil
}

func yamlValue(dec *json.Decoder) (*yaml.Node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		n := &yaml.Node{Kind: yaml.MappingNode}
		if v == '[' {
			n.Kind = yaml.SequenceNode
		}
		for dec.More() {
			if n.Kind == yaml.MappingNode {
				key, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key.(string)})
			}
			child, err := yamlValue(dec)
			if err != nil {
				return nil, err
			}
			n.Content = append(n.Content, child)
		}
		_, err := dec.Token() // the closing delimiter
		return n, err
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}, nil
	case json.Number:
		tag := "!!int"
		if _, err := strconv.ParseInt(v.String(), 10, 64); err != nil {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v.String()}, nil
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}, nil
	default: // nil
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}, nil
	}
}
