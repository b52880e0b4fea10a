package ship

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

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

// judge reads an OTLP/HTTP answer (the OTLP specification, "OTLP/HTTP
// Response"; docs/shipping.md "OTLP"):
//
//   - 2xx: delivered. A partial_success with rejected_log_records > 0:
//     the store refused that many records for good and the client must
//     not send the request again; OTLP does not say which records, so
//     the report names the batch they were in.
//   - 400: the data is bad, for good ("Bad Data": the client must not
//     send it again): the whole batch is refused.
//   - Anything else is sent again with backoff, after Retry-After when a
//     429 or 503 gives one (at most the backoff's 30 s). The specification
//     retries 429, 502, 503 and 504 and no other status; the shipper also
//     retries the other 4xx (401, 403, 404, 413: the operator's to fix,
//     and refusing each batch in turn would empty the whole trail into
//     nothing) and 500 (a store's failure, usually passing), as it does
//     for the bulk API.
//
// A 4xx or 5xx answer's body is a google.rpc.Status, whose message is
// logged; a store that answers plain text is logged as it is.
func (*otlpLogs) judge(resp *http.Response, answer []byte, n int) (verdict, error) {
	switch st := resp.StatusCode; {
	case st/100 == 2:
		rejected, msg, err := partialSuccess(answer)
		switch {
		case err != nil:
			// The store took the batch; sending it again would store it
			// twice.
			return verdict{note: fmt.Sprintf("the answer is not an ExportLogsServiceResponse (%v): %s", err, snippet(answer))}, nil
		case rejected > 0:
			return verdict{count: int(min(rejected, int64(n))), reason: "partial success: " + cmpOr(msg, "(no message)")}, nil
		case msg != "":
			return verdict{note: "partial success, nothing rejected: " + msg}, nil
		}
		return verdict{}, nil
	case st == http.StatusBadRequest:
		return verdict{count: n, reason: resp.Status + ": " + statusMessage(resp.Header, answer)}, nil
	default:
		err := fmt.Errorf("%s: %s", resp.Status, statusMessage(resp.Header, answer))
		if st == http.StatusTooManyRequests || st == http.StatusServiceUnavailable {
			if d := retryAfter(resp.Header.Get("Retry-After")); d > 0 {
				return verdict{}, &retryLater{err: err, after: d}
			}
		}
		return verdict{}, err
	}
}

// exportLogsServiceResponse describes OTLP's ExportLogsServiceResponse
// (opentelemetry/proto/collector/logs/v1/logs_service.proto), decoded by
// the protobuf library through dynamicpb. The generated type lives in
// the collector package, with the gRPC service and its gateway: 10 MB of
// gRPC in the binary for one small answer (measured). The descriptor is
// checked against the generated one in TestOTLPResponseDescriptor.
var exportLogsServiceResponse = func() protoreflect.MessageDescriptor {
	field := func(name string, number int32, typ descriptorpb.FieldDescriptorProto_Type, typeName, json string) *descriptorpb.FieldDescriptorProto {
		f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(number),
			Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: typ.Enum(), JsonName: proto.String(json)}
		if typeName != "" {
			f.TypeName = proto.String(typeName)
		}
		return f
	}
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("trailcar/otlp_logs_response.proto"),
		Package: proto.String("opentelemetry.proto.collector.logs.v1"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("ExportLogsServiceResponse"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("partial_success", 1, descriptorpb.FieldDescriptorProto_TYPE_MESSAGE, ".opentelemetry.proto.collector.logs.v1.ExportLogsPartialSuccess", "partialSuccess"),
			},
		}, {
			Name: proto.String("ExportLogsPartialSuccess"),
			Field: []*descriptorpb.FieldDescriptorProto{
				field("rejected_log_records", 1, descriptorpb.FieldDescriptorProto_TYPE_INT64, "", "rejectedLogRecords"),
				field("error_message", 2, descriptorpb.FieldDescriptorProto_TYPE_STRING, "", "errorMessage"),
			},
		}},
	}
	f, err := protodesc.NewFile(fd, new(protoregistry.Files))
	if err != nil {
		panic(err) // a descriptor literal that does not build: a bug caught by any test
	}
	return f.Messages().ByName("ExportLogsServiceResponse")
}()

// partialSuccess reads an ExportLogsServiceResponse: how many records
// the store rejected, and its message.
func partialSuccess(answer []byte) (rejected int64, msg string, err error) {
	m := dynamicpb.NewMessage(exportLogsServiceResponse)
	if err := proto.Unmarshal(answer, m); err != nil {
		return 0, "", err
	}
	ps := m.Get(exportLogsServiceResponse.Fields().ByName("partial_success")).Message()
	pd := ps.Descriptor().Fields()
	return ps.Get(pd.ByName("rejected_log_records")).Int(), ps.Get(pd.ByName("error_message")).String(), nil
}

// statusMessage is a failed answer's google.rpc.Status message, or the
// body itself when it is not one.
func statusMessage(h http.Header, answer []byte) string {
	if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "application/x-protobuf") || strings.HasPrefix(ct, "application/protobuf") {
		var st statuspb.Status
		if err := proto.Unmarshal(answer, &st); err == nil && st.Message != "" {
			return st.Message
		}
	}
	return snippet(answer)
}

// retryLater is a failure whose answer said when to try again.
type retryLater struct {
	err   error
	after time.Duration
}

func (e *retryLater) Error() string { return fmt.Sprintf("%v (retry after %v)", e.err, e.after) }
func (e *retryLater) Unwrap() error { return e.err }

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
