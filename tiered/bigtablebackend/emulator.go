package bigtablebackend

import (
	"context"
	"fmt"

	"cloud.google.com/go/bigtable"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// emulatorProject and emulatorInstance name the instance on an emulator when
// NewEmulatorClient is given none; an emulator accepts any name.
const (
	emulatorProject  = "strata"
	emulatorInstance = "strata"
)

// DialEmulator dials an emulator (cbtemulator or bttest) at addr without credentials and
// with MaxMessageSize call options, which the client library leaves at gRPC's 4 MiB when
// BIGTABLE_EMULATOR_HOST is used. extra dial options (interceptors, for example) are
// appended. It makes a connection, not a Backend: give it to NewEmulatorClient, or to
// bigtable.NewAdminClient with option.WithGRPCConn.
func DialEmulator(addr string, extra ...grpc.DialOption) (*grpc.ClientConn, error) {
	opts := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageSize), grpc.MaxCallSendMsgSize(MaxMessageSize)),
	}, extra...)
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("bigtablebackend: dial %s: %w", addr, err)
	}
	return conn, nil
}

// NewEmulatorClient returns a data client on instance project/instance (default
// "strata"/"strata") that sends every RPC over conn, a connection to an emulator or an
// in-process bttest server, typically from DialEmulator. Client metrics are off. It makes a
// client, not a Backend: pass it to Open. Closing the client closes conn too (the library
// closes a connection passed with option.WithGRPCConn).
//
// conn should allow MaxMessageSize messages (DialEmulator's do); gRPC's default of 4 MiB
// fails reads of rows above it.
func NewEmulatorClient(ctx context.Context, conn *grpc.ClientConn, project, instance string) (*bigtable.Client, error) {
	if project == "" {
		project = emulatorProject
	}
	if instance == "" {
		instance = emulatorInstance
	}
	c, err := bigtable.NewClientWithConfig(ctx, project, instance,
		bigtable.ClientConfig{MetricsProvider: bigtable.NoopMetricsProvider{}}, option.WithGRPCConn(conn))
	if err != nil {
		return nil, fmt.Errorf("bigtablebackend: emulator client: %w", err)
	}
	return c, nil
}
