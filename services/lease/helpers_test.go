package lease_test

import "github.com/nats-io/nats.go"

func natsConnect(url string) (*nats.Conn, error) { return nats.Connect(url, nats.MaxReconnects(0)) }
