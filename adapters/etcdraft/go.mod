module github.com/raftlog/raftlog/adapters/etcdraft

go 1.26.0

replace github.com/raftlog/raftlog => ../..

require (
	github.com/cockroachdb/datadriven v1.0.2
	github.com/raftlog/raftlog v0.0.0-00010101000000-000000000000
	github.com/stretchr/testify v1.12.1
	go.etcd.io/raft/v3 v3.7.0
	google.golang.org/protobuf v1.36.11
)

require (
	github.com/klauspost/crc32 v1.3.0 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/pmezard/go-difflib v1.0.0 // indirect
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)
