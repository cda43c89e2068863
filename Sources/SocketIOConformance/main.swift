print("conformance server: not yet")
