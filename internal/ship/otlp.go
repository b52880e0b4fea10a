package ship

import (
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/trailcar/trailcar/internal/event"
)

// otlpLogs is OTLP/HTTP logs in protobuf (docs/shipping.md "OTLP"): one
// ExportLogsServiceRequest per batch, one LogRecord per line, the line as
// its body.
//
// The request is marshalled from logs/v1.LogsData, whose wire form is the
// ExportLogsServiceRequest's (both are field 1, repeated ResourceLogs; the
// OTLP proto keeps them in step): the collector package that declares the
// request also carries the gRPC service and its gateway, which would put
// gRPC in the binary for one message. TestShipOTLPToVictoriaLogs has a
// real OTLP endpoint decode the body as the request.
type otlpLogs struct {
	service, host string
}

func (*otlpLogs) path() string { return "/v1/logs" }

func (p *otlpLogs) encode(b *batch) ([]byte, string, error) {
	records := make([]*logspb.LogRecord, 0, b.n)
	var ev event.Event
	for i := range b.n {
		line := b.line(i)
		rec := &logspb.LogRecord{Body: str(string(line))}
		if err := event.Decode(line, &ev); err == nil {
			rec.TimeUnixNano = uint64(ev.Time.UnixNano())
			rec.SeverityText, rec.SeverityNumber = "INFO", logspb.SeverityNumber_SEVERITY_NUMBER_INFO
			if ev.Level == event.LevelError {
				rec.SeverityText, rec.SeverityNumber = "ERROR", logspb.SeverityNumber_SEVERITY_NUMBER_ERROR
			}
			rec.Attributes = attrs(&ev)
		}
		records = append(records, rec)
	}
	req := &logspb.LogsData{ResourceLogs: []*logspb.ResourceLogs{{
		Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
			{Key: "service.name", Value: str(p.service)},
			{Key: "host.name", Value: str(p.host)},
		}},
		ScopeLogs: []*logspb.ScopeLogs{{
			Scope:      &commonpb.InstrumentationScope{Name: "trailcar"},
			LogRecords: records,
		}},
	}}}
	body, err := proto.Marshal(req)
	return body, "application/x-protobuf", err
}

// attrs are the event's fields a store indexes, where the event has them.
func attrs(ev *event.Event) []*commonpb.KeyValue {
	kv := make([]*commonpb.KeyValue, 0, 8)
	add := func(k, v string) {
		if v != "" && v != event.Unknown {
			kv = append(kv, &commonpb.KeyValue{Key: k, Value: str(v)})
		}
	}
	add("event.id", ev.ID)
	add("event.type", ev.Type)
	add("event.action", ev.Action)
	add("event.outcome", ev.Outcome)
	add("user.name", ev.Creds.Name)
	add("http.request.method", ev.Req.Method)
	add("url.path", ev.Req.Path)
	if ev.Res.StatusCode != 0 {
		kv = append(kv, &commonpb.KeyValue{Key: "http.response.status_code",
			Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: int64(ev.Res.StatusCode)}}})
	}
	return kv
}

func str(s string) *commonpb.AnyValue {
	return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: s}}
}

// result: OTLP/HTTP answers a partial success inside a 2xx; the rejected
// records are counted by the store, not named, so a 2xx delivers the
// batch.
func (*otlpLogs) result([]byte, int) ([]rejection, error) { return nil, nil }
