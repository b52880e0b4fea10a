package ship

import (
	"testing"

	collogspb "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestOTLPResponseDescriptor: the ExportLogsServiceResponse the shipper
// decodes (declared in otlp.go, to keep gRPC out of the binary) is the
// generated one, field for field, and reads a real answer.
func TestOTLPResponseDescriptor(t *testing.T) {
	real := (&collogspb.ExportLogsServiceResponse{}).ProtoReflect().Descriptor()
	for _, name := range []string{"ExportLogsServiceResponse", "ExportLogsPartialSuccess"} {
		want := protodesc.ToDescriptorProto(real.ParentFile().Messages().ByName(protoreflect.Name(name)))
		got := protodesc.ToDescriptorProto(exportLogsServiceResponse.ParentFile().Messages().ByName(protoreflect.Name(name)))
		if !proto.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
	}
	b, err := proto.Marshal(&collogspb.ExportLogsServiceResponse{PartialSuccess: &collogspb.ExportLogsPartialSuccess{RejectedLogRecords: 7, ErrorMessage: "too old"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, msg, err := partialSuccess(b); n != 7 || msg != "too old" || err != nil {
		t.Errorf("partialSuccess: %d %q %v", n, msg, err)
	}
	if n, msg, err := partialSuccess(nil); n != 0 || msg != "" || err != nil {
		t.Errorf("an empty answer (full success): %d %q %v", n, msg, err)
	}
	if _, _, err := partialSuccess([]byte("{\"partialSuccess\":{}}")); err == nil {
		t.Error("a JSON answer read as protobuf")
	}
}
