"""Word lists the story de-identifier works from (data only, no logic).

Names are matched capitalised, everything else lower-cased. A list misses
names it has never seen: the de-identifier also finds names from context
(titles, "named", relationship words) and from capitalised words it does not
know, so these lists raise recall on names at the start of a sentence and
keep known non-names (places, organisations, te reo words) from being taken
for names."""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(w.strip() for w in text.replace("\n", ",").split(",") if w.strip())


# -- names ----------------------------------------------------------------------------

MAORI_GIVEN = _words("""
Aroha, Anahera, Ariana, Atawhai, Awhina, Āwhina, Hana, Hemi, Hēmi, Hine, Hinemoa, Hinewai, Huia,
Hōhepa, Hohepa, Hōne, Hone, Ihaia, Kahu, Kahurangi, Kaea, Keri, Kiri, Kiritapu, Maia, Manaia,
Marama, Matiu, Mere, Mihi, Mikaere, Mīria, Miria, Moana, Ngahuia, Ngāhuia, Ngaio, Ngaire, Nikau,
Oriwa, Pania, Paora, Pāora, Piripi, Pita, Rangi, Ranginui, Rāwiri, Rawiri, Rehua, Rewi, Rīpeka,
Ripeka, Riria, Rongo, Ruia, Tama, Tamati, Tāmati, Tāne, Tane, Tania, Tīmoti, Timoti, Tipene, Tui,
Tūī, Waimarie, Whetu, Whetū, Wikitoria, Wiremu, Kawiti, Hūhana, Huhana, Mārama, Ataahua, Ātaahua,
Kereama, Hinerangi, Tamaiti, Rangimarie, Te Rangi, Kahurangi, Tia, Nīkau, Rua, Hēni, Heni, Arapeta,
Māka, Maka, Wairimu, Teina, Tuhi, Mereana, Hineata, Pounamu, Manawa, Kiriana, Tamahou
""") - {"Tamaiti"}

MAORI_FAMILY = _words("""
Ngata, Parata, Tipene, Tuhiwai, Horomona, Te Whata, Whata, Te Aho, Aho, Te Kani, Kani, Tamihana,
Paki, Karaka, Wihongi, Herewini, Pōmare, Pomare, Hēnare, Henare, Kereama, Tautahi, Waaka, Hohaia,
Ruru, Poutama, Mōhi, Mohi, Tāwhai, Tawhai, Maaka, Nikora, Rapana, Whaanga, Tūhiwai, Tomoana,
Te Hira, Hira, Pene, Tāwhiri, Kingi, Rewiti, Taiaroa, Tūhoro, Manuera, Te Wake, Wake, Ngāwhika,
Hetaraka, Rapata, Tuhoro, Potae, Pōtae, Te Paa, Paa, Ratima, Rātima, Matenga, Te Rito, Rito
""")

PASIFIKA_GIVEN = _words("""
Sione, Siosaia, Tevita, Losa, Mele, Malia, Sina, Lupe, Fetu, Ioane, Talia, Salote, Sālote,
Viliami, Semisi, Lagi, Folau, Iosefa, Sefo, Tasi, Leilani, Tavita, Petelo, Afa, Mose, Eseta,
Litia, Vai, Seini, Ofa, ʻOfa, Mosese, Pita, Fili, Tomasi, Siaosi, Alofa, Faith, Ana, Malakai,
Taniela, Sitani, Lesieli, Meleane, Ema, Tupe, Filipo, Saia, Lose, Iva, Sefa, Luisa, Finau
""") - {"Faith", "Ana"}

PASIFIKA_FAMILY = _words("""
Tuilagi, Fonoti, Faleolo, Taufa, Vaifale, Tupou, Havili, Leota, Fifita, Tuiasosopo, Aumua, Sapolu,
Fa'amausili, Tauiliili, Pouono, Mulitalo, Vake, Kata, Toleafoa, Nonu, Alofaituli, Soliai, Fuimaono,
Matagi, Taumalolo, Latu, Lolohea, Fonua, Kupu, Masoe, Tuimavave, Lauina, Sopoaga, Afamasaga,
Schuster, Tagaloa, Pulu, Faumuina, Vaega, Ioasa, Tafuna, Sila, Peni, Mahe, Moala, Veikune
""")

ASIAN_GIVEN = _words("""
Wei, Ming, Jing, Xiao, Mei, Hui, Jun, Yan, Lei, Fang, Priya, Arjun, Anjali, Rahul, Sanjay, Deepa,
Ravi, Harpreet, Gurpreet, Manpreet, Jaspreet, Simran, Minh, Linh, Thanh, Hoa, Huong, Anh, Ji-woo,
Min-jun, Seo-yeon, Ji-hoon, Hiroshi, Yuki, Aiko, Kenji, Haruto, Rizal, Jocelyn, Marites, Rowena,
Maricel, Aditya, Neha, Pooja, Vikram, Amit, Sunita, Kavya, Ananya, Xin, Yu, Hao, Chen, Li, Zhen,
Ngoc, Tuan, Dung, Quang, Sokha, Dara, Srey
""") - {"Chen", "Li", "Yu", "Hao", "Dung"}

ASIAN_FAMILY = _words("""
Chen, Wang, Zhang, Liu, Li, Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Lin, Singh, Kaur, Patel, Sharma,
Kumar, Gupta, Reddy, Nguyen, Tran, Le, Pham, Kim, Lee, Park, Choi, Tanaka, Sato, Suzuki, Santos,
Reyes, Cruz, Dela Cruz, Garcia, Ng, Wong, Chan, Cheung, Tan, Lim, Yang, Gao, Guo, He, Hu, Luo,
Zheng, Deng, Yadav, Nair, Menon, Iyer, Das, Bui, Vo, Dang, Hoang, Mendoza, Bautista, Villanueva,
Aquino, Ramos, Castillo, Takahashi, Watanabe, Yamamoto, Jung, Kang, Yoon, Lam, Ho, Chow, Leung
""") - {"Sun", "Ma", "Le", "He", "Ho", "Lee", "Park", "Kim", "Lam"}

PAKEHA_GIVEN = _words("""
Sarah, Emma, Olivia, Charlotte, Sophie, Jessica, Hannah, Amelia, Isla, Ruby, Lily, Jack, James,
Oliver, William, Thomas, Liam, Noah, Lucas, Jacob, Daniel, Samuel, Benjamin, Michael, David, John,
Peter, Paul, Steve, Steven, Craig, Shane, Wayne, Darryl, Kylie, Michelle, Karen, Donna, Tracey,
Kelly, Jodie, Brooke, Chloe, Zoe, Mia, Ella, Ava, George, Harry, Charlie, Mason, Logan, Jayden,
Tyler, Brayden, Kayla, Courtney, Aaron, Adam, Andrew, Anthony, Ashley, Bradley, Brendon, Brett,
Bruce, Cameron, Chris, Christopher, Claire, Dean, Debbie, Emily, Fiona, Gary, Gemma, Hayden, Heather,
Helen, Ian, Jamie, Jason, Jenny, Jo, Joanne, Josh, Joshua, Julie, Kane, Kate, Katie, Kevin, Kim,
Kirsty, Leanne, Lisa, Louise, Luke, Matthew, Megan, Melissa, Nathan, Nicole, Paula, Rachel, Rebecca,
Richard, Robert, Ryan, Sam, Scott, Sean, Shannon, Sharon, Stacey, Stephanie, Tim, Toby, Tom, Tony,
Trent, Vanessa, Warren, Zac, Zara, Jordan, Riley, Harper, Evie, Mackenzie, Ben, Jess, Bella, Nikki,
Tina, Trevor, Graeme, Murray, Colin, Lynette, Raewyn, Glenys, Bronwyn, Maureen, Dougal, Hamish,
Angus, Fergus, Kiwi, Sienna, Maddison, Caleb, Ethan, Levi, Archie, Finn, Quinn
""") - {"Kiwi", "Murray", "Kim"}

PAKEHA_FAMILY = _words("""
Smith, Wilson, Taylor, Williams, Jones, Thompson, Anderson, Walker, Harris, Martin, Clarke,
Robinson, Wright, Campbell, Stewart, Mitchell, Hughes, Reid, Morrison, O'Brien, McDonald, MacKenzie,
Fraser, Duncan, Johnson, Jackson, Davies, Evans, Roberts, Edwards, Turner, Phillips, Parker,
Collins, Morris, Murphy, Ryan, Kennedy, Sullivan, Bennett, Watson, Henderson, Paterson, Ferguson,
McKenzie, Douglas, Sinclair, Gibson, Grant, Hunt, Marshall, Russell, Simpson, Johnston, Cunningham,
Fitzgerald, Donaldson, Gallagher, Harrison, Hollis, McLeod, McIntyre, Pritchard, Rutherford,
Sutherland, Thomson, Whitehead, Wilkinson, Bryant, Chapman, Dixon, Ellis, Fletcher, Graham, Hayes,
Holmes, Lawson, Matthews, Newton, Palmer, Pearson, Richardson, Shaw, Spencer, Webb, Woods
""")

NAMES = (MAORI_GIVEN | MAORI_FAMILY | PASIFIKA_GIVEN | PASIFIKA_FAMILY | ASIAN_GIVEN
         | ASIAN_FAMILY | PAKEHA_GIVEN | PAKEHA_FAMILY)

# Names that are also everyday words or places (surnames such as Henderson, Gore
# and Massey are suburbs and towns too): a name only next to another name, after
# a title or relationship word, or where they were already found.
AMBIGUOUS_NAMES = _words("""
Grace, Hope, Faith, Joy, Rose, Sky, Summer, Young, White, Brown, King, Bell, Hunter, Cooper, Baker,
Mason, Will, Mark, Bill, Mere, Moana, Rangi, Tama, Hine, Tui, Kahu, Marama, Manaia, Awhina, Aroha,
Rua, Tia, Ana, Nelson, Napier, Hastings, Hamilton, Murray, Ruby, Lily, Jordan, Harper, Kelly,
Dean, Grant, Hunt, Palmer, Marshall, Chase, Paris, Ma, Sun, He, Le, Ho, Lee, Park, Kim, Lam,
Kiwi, Pounamu, Manawa, Rongo, Whetu, Huia, Nikau, Kauri, Li, Yu, Hao, Chen, Dung, Anh, Will
Gore, Massey, Henderson, Stratford, Huntly, Levin, Marton, Elgin, Fairfield, Thames, Alexandra
""")

# Given names that are also English words. Written capitalised in the middle of
# a sentence they are names (as words they would be in lower case); at the start
# of one, a name when a verb or another name follows, as for a name no list knows.
WORD_NAMES = _words("""
Autumn, Justice, Royal, Blessing, Precious, Honey, Storm, River, Harmony, Destiny, Trinity,
Liberty, Heaven, Angel, Miracle, Willow, Ocean, Rain, Sunny, Star, Paradise, Princess, Prince,
Journey, Legend, Ivy, Amber, Pearl, Crystal, Dawn, Eden, Haven, Serenity, Melody, Marley, Phoenix
""")

# -- context --------------------------------------------------------------------------

# Titles before a name; kept in the text ("Whaea [NAME]").
TITLES = _words("""
mr, mrs, ms, miss, mx, dr, nurse, whaea, matua, aunty, auntie, uncle, nana, nan, koro, kui, pastor,
reverend, rev, sir, dame, constable, sergeant, judge, coach, principal, father, fr, bishop, sister
""")

# "named X", "called X", "known as X"
NAME_CUES = ("named", "called", "nickname", "name is", "name was", "name's", "known as", "nicknamed",
             "goes by", "calls himself", "calls herself", "calls themselves")

RELATIONS = _words("""
son, sons, daughter, daughters, boy, boys, girl, girls, baby, pēpi, pepi, partner, husband, wife,
mum, mother, dad, father, nan, nana, nanny, koro, grandmother, grandfather, grandma, granddad,
grandad, brother, brothers, sister, sisters, cousin, cousins, aunty, auntie, uncle, boyfriend,
girlfriend, ex, ex-partner, friend, neighbour, neighbor, caregiver, stepdad, stepmum, stepson,
stepdaughter, grandson, granddaughter, niece, nephew, moko, mokopuna, tamaiti, whāngai, whangai,
kids, children, tamariki, twins, child, teenager, tama, kōtiro, kotiro, tuakana, teina, whaea,
matua, tāne, wahine, fiancé, fiance, fiancée, flatmate, landlord, mate, sibling, siblings,
eldest, youngest, oldest, middle
""")

# A capitalised word at the start of a sentence is a name only when followed by
# one of these (or by 's), unless a list or another sentence already named it.
NAME_VERBS = _words("""
said, says, told, tells, was, is, has, had, came, comes, started, starts, moved, lives, lived, went,
goes, wanted, wants, asked, asks, felt, feels, loves, loved, got, gets, left, joined, attended,
finished, completed, became, worked, works, and, rang, called, texted, emailed, decided, needed,
needs, tried, began, arrived, stayed, spent, found, knew, hopes, hoped, shared, explained, turned,
took, takes, says, missed, cried, laughed, smiled, agreed, refused, wrote, walked, drove, would,
will, can, could, did, does, didn't, doesn't, wasn't, isn't, now, still, also, never, always,
stopped, learned, learnt, enrolled, graduated, passed, kept, spoke, talked, reached, signed,
drives, drove, lost, loses, enjoys, enjoyed, plays, played, sings, sang, cooks, cooked, helps,
helped, sleeps, slept, eats, ate, reads, read, writes, visits, visited, volunteers, volunteered,
attends, sees, saw, met, meets, smokes, drinks, uses, used, owns, owned, owes, owed, earns, earned,
receives, received, cares, cared, struggles, struggled, suffers, suffered, shows, showed, gave,
gives, brought, brings, made, makes, paid, pays, set, sets, won, wins, thinks, thought, believes,
remembers, remembered, misses, returned, returns, moved, moves, was, were, born, dob, aged, nhi
""")

# -- what is kept ---------------------------------------------------------------------

# Capitalised at the start of a sentence, these are ordinary words.
COMMON_WORDS = _words("""
a, an, the, and, but, or, so, because, since, although, though, while, when, whenever, where,
after, before, during, until, once, if, then, now, today, yesterday, tomorrow, later, soon, first,
last, next, every, each, one, two, three, four, five, six, seven, eight, nine, ten, both, all, some,
many, most, several, few, none, no, yes, not, only, just, even, still, also, again, already, at, in,
on, by, for, from, to, of, with, without, about, over, under, through, within, into, onto, as,
like, she, he, they, we, i, you, it, her, his, their, our, my, your, its, them, us, me, him,
this, that, these, those, there, here, what, which, who, whom, whose, why, how, what's, it's,
she's, he's, they're, we're, i'm, that's, there's, thanks, thank, kia, ora, tēnā, tena, koe,
hello, hi, dear, regards, meanwhile, eventually, finally, sometimes, often, usually, recently,
together, instead, however, overall, previously, initially, currently, afterwards, today's,
things, life, home, school, work, money, food, housing, family, families, kids, children, people,
staff, everyone, everything, nothing, nobody, someone, something, anyone, another, other, others,
getting, going, being, having, making, living, working, staying, finding, learning, looking,
since, despite, thanks, according, across, around, between, near, outside, inside, without,
mum, dad, nan, nana, koro, aunty, uncle, whaea, matua, baby, weekly, monthly, every, almost,
more, less, much, very, really, quite, far, well, good, great, better, best, bad, worse, hard,
new, old, young, little, big, small, long, short, high, low, full, part, half, quarter, year,
years, month, months, week, weeks, day, days, morning, afternoon, evening, night, tonight, term,
referral, referred, client, clients, case, notes, note, update, summary, background, outcome,
outcomes, story, goals, goal, support, session, sessions, programme, program, attendance, safety,
plan, progress, concerns, concern, strengths, next, steps, follow, help, please, sorry, yeah,
okay, ok, wow, look, let, maybe, perhaps, probably, definitely, certainly, fortunately,
unfortunately, sadly, luckily, happily, slowly, quickly, gradually, suddenly, now, then, soon,
there, here, before, after, above, below, up, down, out, off, back, away, home, together, alone,
mail, address, phone, email, contact, referral, helpline, helplines, attendance, rent, debt, kai,
through, thanks, our, team, reason, reasons, address, details, file, number, numbers, visit, visits,
worries, worry, money, bills, power, heating, school, college, court, police, hospital, doctors,
nobody, somebody, people, parents, parent, whānau, tamariki, rangatahi, koro, kuia, health,
things, stuff, work, job, jobs, car, cars, house, home, motel, motels, rooms, room, bedroom,
nights, weekends, holidays, christmas, winter, summer, spring, autumn, both, neither, either,
everyone, everybody, none, please, thank, sure, fine, yes, no, hello, goodbye, wellbeing, mental,
physical, emotional, cultural, financial, legal, social, budget, budgeting, food, parcels, grant,
grants, benefit, benefits, payment, payments, rates, costs, cost, prices, price, debts, loans, loan,
ring, call, text, phone, contact, visit, ask, tell, see, meet, send, give, take, bring, check,
remind, invite, thank, pick, drop, book, arrange, refer, encourage, support, talk, speak, write,
keep, make, get, let, go, come, try, ask, email, message, follow, update, confirm, collect,
per, re, via, w, spoke, present, dear, letters, best, home visit, first contact, case closed
""")

TE_REO_WORDS = _words("""
whānau, whanau, tamariki, kaumātua, kaumatua, marae, mokopuna, moko, hapū, hapu, iwi, kōrero,
korero, kai, mahi, wairua, mana, tikanga, karakia, hui, aroha, reo, te reo, māori, maori, pākehā,
pakeha, whakapapa, rangatahi, kuia, koroua, pēpi, pepi, kura, kōhanga, kohanga, wharekura, kaupapa,
whare, whenua, taonga, tangihanga, tangi, pōwhiri, powhiri, manaakitanga, kaitiakitanga,
whanaungatanga, mātua, tūpuna, tupuna, tīpuna, haka, waiata, hāngī, hangi, kapa haka, tautoko,
awhi, āwhina, oranga, ora, pai, ka pai, wānanga, wananga, rohe, kāinga, kainga, pā, aotearoa,
matariki, tangata, tāngata, tangata whenua, hauora, kaimahi, kaiārahi, kaiarahi, whaea, matua,
koro, nan, kōtiro, tama, tāne, wahine, aiga, fanau, fono, lotu, talanoa, palagi, fono, kaiako,
mātauranga, matauranga, ako, rongoā, rongoa, mirimiri, mihi, mihimihi, whakatau, poroporoaki,
tautoko, kotahitanga, rangatiratanga, tino, kia, ora, kia ora, tēnā, koe, ngā, nga, te, o, e, i
""")

# Organisations and programmes: kept (the issue asks for them to stay).
ORGANISATIONS = _words("""
CCSS, City Centre Social Services, Oranga Tamariki, Work and Income, WINZ, MSD,
Ministry of Social Development, Kāinga Ora, Kainga Ora, Housing New Zealand, Plunket, Whānau Ora,
Whanau Ora, Family Start, Salvation Army, Sallies, Women's Refuge, Barnardos, Red Cross, ACC,
IRD, Inland Revenue, Te Whatu Ora, Health New Zealand, Police, Citizens Advice Bureau, CAB,
Foodbank, City Mission, Best foot forward, Best Foot Forward, Healthline, Parentline, Te Puni Kōkiri,
Presbyterian Support, Anglican Care, Lifeline, Youthline, Strengthening Families, Incredible Years,
Triple P, SKIP, Ka Ora Ka Ako, KidsCan, Bellyful, Auckland City Mission, Wellington City Mission,
Whānau Tahi, Family Works, Pillars, Shine, Te Whare Tiaki, Te Rūnanga, Kōhanga Reo, Kohanga Reo,
StudyLink, Ministry of Education, MoE, NZ Police, Corrections, Department of Corrections,
Family Court, District Court, Youth Court, Emergency Department, ED, A&E, GP, NGO, NCEA, DHB,
Community Law, Budgeting Services, Kiwi Can, Kiwibank, ASB, ANZ, BNZ, Westpac, Salvation Army
Community Ministries, Te Kōhanga Reo, Awhi Mai, Manaaki Tamariki, Whakapakari, Mana Tāne,
Pou Whirinaki, Te Ara Hou, Housing First, Emergency Housing, Whānau Ora Navigator, Navigator,
Ministry for Children, Ministry of Health, Manatū Hauora, Ministry of Justice, Ministry for Pacific
Peoples, Ministry for Women, Ministry of Housing and Urban Development, Te Tūāpapa Kura Kāinga,
Department of Internal Affairs, Te Tari Taiwhenua, Accident Compensation Corporation, Whaikaha,
Ministry of Disabled People, Te Aka Whai Ora, Ara Poutama Aotearoa, Te Manatū Whakahiato Ora,
Te Tāhuhu o te Mātauranga, Child Youth and Family, CYFS, CYF, Victim Support, Tenancy Services,
Tenancy Tribunal, Disputes Tribunal, Legal Aid, Te Hiringa Hauora, Health NZ, Te Puni Kokiri,
New Zealand Police, Ngā Pirihimana o Aotearoa, Fire and Emergency, Hato Hone St John, St John,
Problem Gambling Foundation, Alcoholics Anonymous, Narcotics Anonymous, Plunketline, Kidsline,
Ministry of Business Innovation and Employment, MBIE, Immigration New Zealand, Stats NZ, NZQA
""")

# Capitalised words that name no one.
OTHER_PROPER = _words("""
monday, tuesday, wednesday, thursday, friday, saturday, sunday, january, february, march, april,
may, june, july, august, september, october, november, december, christmas, easter, matariki,
waitangi, anzac, labour, diwali, ramadan, eid, lunar, new, year, term, room, year, level, covid,
covid-19, english, māori, maori, samoan, tongan, fijian, niuean, cook, island, islands, islander,
tokelauan, chinese, indian, filipino, vietnamese, korean, japanese, pasifika, pacific, asian,
european, pākehā, pakeha, kiwi, kiwis, new zealander, australian, catholic, anglican, methodist,
presbyterian, mormon, lds, ratana, rātana, ringatū, ringatu, muslim, hindu, sikh, buddhist,
christian, church, bible, god, jesus, facebook, messenger, instagram, tiktok, snapchat, whatsapp,
youtube, netflix, google, xbox, playstation, lotto, zoom, teams, uber, trade, me, trademe, covid,
omicron, delta, autism, adhd, asd, fasd, dr, mr, mrs, ms, section, part, schedule, appendix,
tender, agency, provider, programme, the, a, an, sunday, state, highway, sh1, nz, new zealand,
north, south, east, west, island, auckland, central, upper, lower, mount, mt, st, saint,
kmart, warehouse, countdown, woolworths, pak'nsave, paknsave, new world, four square, mitre,
bunnings, mcdonald's, kfc, burger, subway, fonterra, zespri, air, foodstuffs, z, bp, mobil,
whanau, whānau, tamariki, kapa, haka, te, reo, whare, kura, kaupapa, wharekura, marae, mana,
toyota, honda, mazda, nissan, subaru, ford, holden, mitsubishi, hyundai, corolla, hilux, falcon,
commodore, fit, demio, tiida, camry, prius, ranger, navara, hiace, estima, wish, axela, swift,
ute, jeep, isuzu, kia, tesla, vw, volkswagen, bmw
""")

BIG_PLACES = _words("""
Auckland, Wellington, Christchurch, Hamilton, Tauranga, Dunedin, Palmerston North, Napier,
Hastings, Nelson, Rotorua, New Plymouth, Whangārei, Whangarei, Invercargill, Whanganui, Wanganui,
Gisborne, Porirua, Lower Hutt, Upper Hutt, Hutt Valley, Hutt, Northland, Waikato, Bay of Plenty,
Canterbury, Otago, Southland, Taranaki, Manawatū, Manawatu, Hawke's Bay, Hawkes Bay, Tairāwhiti,
Tairawhiti, East Coast, West Coast, Marlborough, Tasman, New Zealand, Aotearoa, South Auckland,
West Auckland, North Shore, East Auckland, Australia, Samoa, Tonga, Fiji, Cook Islands, Niue,
Tokelau, China, India, Philippines, Vietnam, Korea, Japan, Brisbane, Sydney, Melbourne, Perth,
Gold Coast, Queensland, Tāmaki Makaurau, Tamaki Makaurau, Te Whanganui-a-Tara, Ōtautahi, Otautahi,
Kirikiriroa, Ōtepoti, Otepoti, Kāpiti, Kapiti, Wairarapa, Horowhenua, Coromandel, Central Otago,
South Island, North Island, Te Ika-a-Māui, Te Waipounamu, Pacific, UK, England, London, America,
United States, USA, Europe, Asia
""")

SMALL_PLACES = _words("""
Ōpōtiki, Opotiki, Kaikohe, Kaitaia, Kaitāia, Ruatoria, Ruatōria, Wairoa, Kawerau, Murupara, Twizel,
Ōtorohanga, Otorohanga, Te Kūiti, Te Kuiti, Tokoroa, Taumarunui, Moerewa, Kawakawa, Dargaville,
Hokianga, Ōmāpere, Omapere, Rāwene, Rawene, Thames, Paeroa, Waihi, Waihī, Katikati, Te Puke,
Whakatāne, Whakatane, Tūrangi, Turangi, Taupō, Taupo, Mangakino, Raetihi, Ohakune, Marton, Bulls,
Foxton, Levin, Ōtaki, Otaki, Featherston, Martinborough, Greytown, Dannevirke, Pahiatua,
Eketāhuna, Eketahuna, Waipukurau, Tolaga Bay, Tokomaru Bay, Te Araroa, Hicks Bay, Westport,
Greymouth, Hokitika, Reefton, Kaikōura, Kaikoura, Akaroa, Geraldine, Fairlie, Oamaru, Ōamaru,
Balclutha, Gore, Mataura, Riverton, Bluff, Te Anau, Alexandra, Cromwell, Roxburgh, Ranfurly,
Taihape, Waverley, Patea, Pātea, Ōpunake, Opunake, Eltham, Stratford, Hāwera, Hawera, Huntly,
Ngāruawāhia, Ngaruawahia, Te Awamutu, Matamata, Morrinsville, Putāruru, Putaruru, Tirau, Ruawai,
Wellsford, Warkworth, Helensville, Kaeo, Kāeo, Taipa, Mangonui, Mangōnui, Ahipara, Tuakau, Raglan,
Kihikihi, Ruatāhuna, Ruatahuna, Minginui, Te Whaiti, Galatea, Matatā, Matata, Tikitiki,
Te Karaka, Waipiro Bay, Ōtara, Otara, Māngere, Mangere, Manurewa, Papakura, Ōtāhuhu, Otahuhu,
Glen Innes, Ōnehunga, Onehunga, Henderson, Ranui, Rānui, Massey, Glen Eden, Avondale, Mt Roskill,
Mount Roskill, Papatoetoe, Clendon, Wiri, Flat Bush, Cannons Creek, Naenae, Wainuiomata, Taitā,
Taita, Stokes Valley, Aranui, Linwood, Hornby, Phillipstown, Fordlands, Owhata, Fairfield,
Enderley, Nawton, Dinsdale, Cannons Creek, Waitangirua, Titahi Bay, Ascot Park, Kelvin Grove,
Highbury, Castlecliff, Gonville, Maraenui, Flaxmere, Camberley, Kaiti, Elgin, Otangarei,
Tikipunga, Raumanga, Kaikorai, Brockville, Corstorphine, Heidelberg, Glengarry, Tūākau, Moerewa,
Whakarewarewa, Ngongotahā, Ngongotaha, Murupara, Minginui, Kaitaia, Pukekohe, Waiuku, Te Atatū,
Te Atatu, Kelston, Sunnyvale, Weymouth, Randwick Park, Favona, Mangere East, Māngere East, Ōtaki, Paraparaumu
""")

# Words that end the name of an organisation (kept), a school (flagged) or a
# workplace (flagged).
ORG_SUFFIXES = _words("""
Trust, Services, Service, Centre, Center, Society, Ministry, Agency, Council, Board, Hospital,
Clinic, Foundation, Church, Network, Collective, Programme, Program, Group, Ltd, Limited, Army,
Refuge, Union, Association, Department, Court, Mission, Bank, Library, Incorporated, Inc,
Corporation, Unit, Rūnanga, Runanga, Authority, Commission, Hub, Ora, Tamariki, Income, Project,
Initiative, Team, Whare, Kōhanga, Kohanga, Reo, Marae, Partnership, Alliance, Coalition, Club, RFC,
AFC
""")

SCHOOL_SUFFIXES = _words("""
School, College, Primary, Intermediate, Kindergarten, Kindy, Kura, University, Polytechnic,
Academy, Playcentre, Daycare, Preschool, Grammar, Wharekura, Kōhanga, Kohanga, Institute, Campus
""")

WORKPLACE_NAMES = _words("""
Fonterra, Countdown, Woolworths, Pak'nSave, PAK'nSAVE, New World, Four Square, Kmart, The Warehouse,
Warehouse, Mitre 10, Bunnings, McDonald's, KFC, Burger King, Subway, Silver Fern Farms, Alliance,
Zespri, Air New Zealand, Foodstuffs, Tegel, Affco, AFFCO, Talley's, Sanford, Ports of Auckland,
KiwiRail, Farmers, Briscoes, Noel Leeming, Z Energy, Mobil, BP, Downer, Fulton Hogan
""")

# Workplaces written in lower case: flagged wherever they appear.
WORKPLACE_PHRASES = ("freezing works", "meatworks", "meat works", "packhouse", "pack house",
                     "the mill", "sawmill", "the port", "the wharf", "orchard", "the mine",
                     "forestry crew", "rest home", "the hospital kitchen", "call centre",
                     "the factory", "the plant", "dairy farm", "shearing gang", "vineyard")

WORK_CUES = ("works at", "working at", "worked at", "job at", "employed at", "employed by",
             "works for", "working for", "worked for", "shifts at", "job with", "works in",
             "worked in", "working in", "works on", "job in", "apprenticeship at")

# Sports: a team, a club or a role in one can single out a child or a parent.
SPORTS = ("rugby league", "rugby", "league", "netball", "touch", "basketball", "football", "soccer",
          "hockey", "cricket", "volleyball", "softball", "waka ama", "kapa haka", "boxing",
          "athletics", "swimming", "rowing", "golf", "tennis", "badminton", "bowls", "surf",
          "surf lifesaving", "kickboxing", "judo", "wrestling", "weightlifting", "powerlifting",
          "sevens", "touch rugby", "underwater hockey", "cycling", "lacrosse", "league tag")
SPORT_ROLES = ("captain", "vice-captain", "co-captain", "coach", "manager", "team", "club",
               "squad", "side", "player", "rep", "representative", "star", "champion", "academy",
               "trials", "triallist", "prop", "halfback", "first five", "hooker", "goal shoot",
               "goalkeeper", "winger", "referee", "umpire", "leader", "tutor")
# Roles that one person holds at a time in a school, a team or a community.
ONE_HOLDER_ROLES = ("head girl", "head boy", "head prefect", "deputy head girl", "deputy head boy",
                    "dux", "proxime accessit", "house captain", "school captain", "team captain",
                    "club captain", "board chair", "marae chair",
                    "chair of the marae", "first xv", "1st xv", "first xi", "1st xi",
                    "first fifteen", "under-\\d+s?", "u\\d{2}s?")

# Health services: a named hospital, clinic or unit is a quasi-identifier.
HEALTH_SUFFIXES = ("Hospital", "Hospice", "Clinic", "Medical Centre", "Medical Center",
                   "Health Centre", "Health Center", "Hauora", "Surgery", "Pharmacy",
                   "Birthing Centre", "Maternity Unit")
HOSPITALS = _words("""
Middlemore, Starship, Kenepuru, Hillmorton, Burwood, Ronald McDonald House, Mason Clinic,
Taranaki Base, Te Whare Ahuru, Greenlane, Ashburton, Wakari, Waitākere, Waitakere
""")
MEDICAL_UNITS = ("neonatal", "nicu", "picu", "icu", "intensive care", "high dependency", "cardiac",
                 "oncology", "cancer", "renal", "dialysis", "burns", "spinal", "stroke",
                 "maternity", "mental health", "psychiatric", "respiratory", "paediatric",
                 "pediatric", "children's", "child health", "fertility", "transplant",
                 "rehabilitation", "rehab", "addiction", "detox", "eating disorders", "forensic",
                 "haematology", "neurology", "orthopaedic", "special care baby", "diabetes")
MEDICAL_UNIT_WORDS = ("unit", "ward", "clinic", "service", "team", "centre")

# Numbers as words, for family sizes ("a family of seven").
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                "eighteen", "nineteen", "twenty")
FAMILY_MEMBERS = ("children", "kids", "tamariki", "mokopuna", "grandchildren", "moko", "siblings",
                  "brothers", "sisters", "sons", "daughters", "boys", "girls", "babies",
                  "stepchildren", "foster children", "whāngai", "grandkids", "mouths to feed")

# Shifts: the hours someone works narrow them down at a workplace.
SHIFTS = ("night shifts?", "nightshifts?", "night-shifts?", "graveyard shifts?", "late shifts?",
          "early shifts?", "morning shifts?", "back shifts?", "split shifts?", "overnight shifts?",
          "works nights", "working nights", "worked nights", "on nights", "double shifts?",
          "weekend shifts?", "rotating shifts?", "shift work", "dawn shifts?", "swing shifts?")

# Details rare enough to single a family out in a small community.
RARE_DETAILS = (
    "twins", "triplets", "quadruplets", "quads", "rare", "only family", "only one in",
    "the only", "amputee", "wheelchair", "blind", "deaf", "cochlear", "famous", "celebrity",
    "champion", "olympic", "olympian", "all black", "black ferns", "silver ferns", "mayor",
    "councillor", "mp ", "member of parliament", "newspaper", "on the news", "on tv", "front page",
    "award", "medal", "record", "house fire", "fire destroyed", "murdered", "homicide",
    "manslaughter", "shooting", "stabbing", "car crash", "drowned", "drowning", "kidnapped",
    "transplant", "conjoined", "terminal", "cancer", "leukaemia", "leukemia", "refugee",
    "asylum", "deported", "prison", "jailed", "gang", "chapter", "patched",
)
