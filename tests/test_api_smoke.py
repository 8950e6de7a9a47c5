"""The API's basic round trip: create, read, list, update, archive, delete."""


def test_lead_round_trip(world):
    api = world.alice
    lead = api.create_lead(firstName="John", lastName="Doe", email="john@example.com")
    assert lead["accountId"] == world.acme
    assert api.get(f"/api/leads/{lead['id']}").get_json()["email"] == "john@example.com"
    assert api.ids() == [lead["id"]]
    assert api.patch(f"/api/leads/{lead['id']}", json={"company": "Acme"}).status_code == 200
    assert api.post(f"/api/leads/{lead['id']}/archive").get_json()["archived"] is True
    assert api.ids() == []
    assert api.delete(f"/api/leads/{lead['id']}").status_code == 204
    assert world.count() == 0
