// The load generator behind `duplex bench`.
